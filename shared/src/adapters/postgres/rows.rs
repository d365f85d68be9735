//! Rows of the PostgreSQL store read into domain values (`adapters::sql`'s readers).

use sqlx::postgres::PgRow;

row_readers!(PgRow, |row| sqlx::Row::try_get(row, "breadcrumbs"));
