//! The processing profiles' role (`ProfileStore`) and the worker's look-up of a document's
//! settings, written once for both SQL stores and compiled by each as its own module (see
//! `documents.rs` beside this file). A profile's settings are kept as their JSON.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, FOR_UPDATE, Store, db_error};
use crate::{
    Error,
    domain::profiles::{NewProfile, Profile, ProfileSettings},
    ports::ProfileStore,
};

macro_rules! profile_select {
    ($($tail:literal),*) => {
        concat!(
            "SELECT p.id, p.name, p.description, p.is_active, p.is_default, p.is_archived, ",
            "p.settings, p.created_at, (SELECT count(*) FROM documents d ",
            "WHERE d.processing_profile_id = p.id) AS document_count FROM processing_profiles p",
            $($tail),*
        )
    };
}

fn profile_from_row(row: &<Db as sqlx::Database>::Row) -> Result<Profile, Error> {
    let settings: String = row.try_get("settings").map_err(db_error)?;
    Ok(Profile {
        id: row.try_get("id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        is_active: row.try_get("is_active").map_err(db_error)?,
        is_default: row.try_get("is_default").map_err(db_error)?,
        is_archived: row.try_get("is_archived").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        settings: parse_settings(&settings)?,
        document_count: row.try_get("document_count").map_err(db_error)?,
    })
}

fn parse_settings(json: &str) -> Result<ProfileSettings, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("a stored profile's settings are unreadable: {e}")))
}

impl Store {
    async fn profile_where(
        &self,
        sql: &'static str,
        id: Option<Uuid>,
    ) -> Result<Option<Profile>, Error> {
        let mut query = sqlx::query(sql);
        if let Some(id) = id {
            query = query.bind(id);
        }
        let row = query
            .fetch_optional(self.reader())
            .await
            .map_err(db_error)?;
        row.as_ref().map(profile_from_row).transpose()
    }

    /// The settings of the profile `document` was uploaded with; the defaults without one.
    pub(super) async fn document_settings(&self, document: Uuid) -> Result<ProfileSettings, Error> {
        let settings: Option<String> = sqlx::query_scalar(
            "SELECT p.settings FROM documents d JOIN processing_profiles p \
             ON p.id = d.processing_profile_id WHERE d.id = $1",
        )
        .bind(document)
        .fetch_optional(self.reader())
        .await
        .map_err(db_error)?;
        settings.map_or_else(|| Ok(ProfileSettings::default()), |s| parse_settings(&s))
    }
}

#[async_trait]
impl ProfileStore for Store {
    async fn list_profiles(&self, include_archived: bool) -> Result<Vec<Profile>, Error> {
        sqlx::query(profile_select!(
            " WHERE $1 OR NOT p.is_archived",
            " ORDER BY p.is_default DESC, p.is_active DESC, p.created_at DESC, p.id"
        ))
        .bind(include_archived)
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?
        .iter()
        .map(profile_from_row)
        .collect()
    }

    async fn profile(&self, id: Uuid) -> Result<Option<Profile>, Error> {
        self.profile_where(profile_select!(" WHERE p.id = $1"), Some(id))
            .await
    }

    async fn active_profile(&self) -> Result<Option<Profile>, Error> {
        self.profile_where(profile_select!(" WHERE p.is_active"), None)
            .await
    }

    async fn create_profile(&self, new: &NewProfile) -> Result<Profile, Error> {
        let settings = serde_json::to_string(&new.settings)
            .map_err(|e| Error::Internal(format!("cannot encode the settings: {e}")))?;
        let id: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO processing_profiles (id, name, description, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(Uuid::new_v4())
        .bind(&new.name)
        .bind(&new.description)
        .bind(settings)
        .bind(Utc::now())
        .fetch_optional(self.writer())
        .await
        .map_err(db_error)?;
        let Some(id) = id else {
            return Err(Error::Conflict(format!(
                "Profile with name \"{}\" already exists",
                new.name
            )));
        };
        self.profile(id)
            .await?
            .ok_or_else(|| Error::Internal("a created profile vanished".into()))
    }

    async fn activate_profile(&self, id: Uuid) -> Result<bool, Error> {
        let mut tx = self.writer().begin().await.map_err(db_error)?;
        // Activations take every profile's row lock in one order before changing any: two
        // that each set their own profile active would otherwise wait on each other's index
        // entry and deadlock.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM processing_profiles ORDER BY id{FOR_UPDATE}"
        )))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "UPDATE processing_profiles SET is_active = false WHERE is_active AND id <> $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let activated = sqlx::query(
            "UPDATE processing_profiles SET is_active = true WHERE id = $1 AND NOT is_archived",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if activated.rows_affected() == 0 {
            return Ok(false); // rolled back on drop
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn set_archived(&self, id: Uuid, archived: bool) -> Result<bool, Error> {
        let changed = sqlx::query(
            "UPDATE processing_profiles SET is_archived = $2 \
             WHERE id = $1 AND NOT (is_default OR is_active)",
        )
        .bind(id)
        .bind(archived)
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn profile_documents(&self, id: Uuid) -> Result<(Vec<Uuid>, i64), Error> {
        let rows = sqlx::query(
            "SELECT id, CAST(chunk_count AS BIGINT) AS chunk_count FROM documents \
             WHERE processing_profile_id = $1",
        )
        .bind(id)
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?;
        let mut chunks = 0;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            ids.push(row.try_get("id").map_err(db_error)?);
            chunks += row.try_get::<i64, _>("chunk_count").map_err(db_error)?;
        }
        Ok((ids, chunks))
    }

    async fn delete_profile(&self, id: Uuid) -> Result<bool, Error> {
        let deleted = sqlx::query(
            "DELETE FROM processing_profiles WHERE id = $1 AND is_archived \
             AND NOT (is_default OR is_active) \
             AND NOT EXISTS (SELECT 1 FROM documents WHERE processing_profile_id = $1)",
        )
        .bind(id)
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        Ok(deleted.rows_affected() == 1)
    }
}
