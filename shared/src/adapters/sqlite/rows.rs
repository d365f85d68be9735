//! Rows of the SQLite store read into domain values (`adapters::sql`'s readers).

use sqlx::sqlite::SqliteRow;

row_readers!(SqliteRow, |row| {
    // A JSON array of strings (SQLite has no array type).
    let json: String = sqlx::Row::try_get(row, "breadcrumbs")?;
    serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))
});
