//! The processing profiles' rules, as the original service kept them: profiles are created or
//! duplicated, never edited; exactly one is active, and new uploads take it; the default one is
//! never archived or deleted; only an archived, inactive profile is deleted, with its documents,
//! once the client confirms.

use uuid::Uuid;

use crate::{
    Error,
    domain::profiles::{NewProfile, Profile, ProfileDeletion, next_version_name},
    ports::{DocumentStore, ProfileStore},
};

/// Names tried for a duplicate before giving up: "Name v2", "Name v3", …
const DUPLICATE_NAMES: usize = 100;

async fn found(store: &dyn ProfileStore, id: Uuid) -> Result<Profile, Error> {
    store
        .profile(id)
        .await?
        .ok_or_else(|| Error::NotFound("Profile not found".into()))
}

fn refuse(why: &str) -> Error {
    Error::NotPermitted(why.into())
}

/// The default and the active profile are never archived or deleted.
fn refuse_in_use(profile: &Profile, action: &str) -> Result<(), Error> {
    if profile.is_default {
        return Err(refuse(&format!("Cannot {action} the default profile")));
    }
    if profile.is_active {
        return Err(refuse(&format!(
            "Cannot {action} the active profile. Activate another profile first."
        )));
    }
    Ok(())
}

/// Another request changed the profile between the check and the change.
fn changed_meanwhile() -> Error {
    Error::Conflict("The profile changed meanwhile; read it again and retry".into())
}

pub async fn create(store: &dyn ProfileStore, new: NewProfile) -> Result<Profile, Error> {
    new.validate()?;
    store.create_profile(&new).await
}

/// A copy of `id`'s settings under `name`, or the source's name versioned; a name that is taken
/// is versioned until one is free.
pub async fn duplicate(
    store: &dyn ProfileStore,
    id: Uuid,
    name: Option<String>,
) -> Result<Profile, Error> {
    let source = found(store, id).await?;
    let mut versioned = name.is_none();
    let name = name.unwrap_or_else(|| next_version_name(&source.name));
    let mut copy = NewProfile::new(name, source.description, source.settings);
    for _ in 0..DUPLICATE_NAMES {
        if let Err(invalid) = copy.validate() {
            // Only the name can be wrong: a versioned one that grew too long is no free name.
            return Err(if versioned { no_free_name() } else { invalid });
        }
        match store.create_profile(&copy).await {
            Err(Error::Conflict(_)) => {
                copy.name = next_version_name(&copy.name);
                versioned = true;
            }
            created => return created,
        }
    }
    Err(no_free_name())
}

fn no_free_name() -> Error {
    Error::Conflict("No free name found for the copy; give it another name".into())
}

/// Makes `id` the active profile, and every other one inactive.
pub async fn activate(store: &dyn ProfileStore, id: Uuid) -> Result<Profile, Error> {
    if found(store, id).await?.is_archived {
        return Err(refuse(
            "Cannot activate an archived profile. Unarchive it first.",
        ));
    }
    if !store.activate_profile(id).await? {
        return Err(changed_meanwhile());
    }
    found(store, id).await
}

pub async fn archive(store: &dyn ProfileStore, id: Uuid) -> Result<Profile, Error> {
    refuse_in_use(&found(store, id).await?, "archive")?;
    if !store.set_archived(id, true).await? {
        return Err(changed_meanwhile());
    }
    found(store, id).await
}

pub async fn unarchive(store: &dyn ProfileStore, id: Uuid) -> Result<Profile, Error> {
    if !found(store, id).await?.is_archived {
        return Err(refuse("Profile is not archived"));
    }
    if !store.set_archived(id, false).await? {
        return Err(changed_meanwhile());
    }
    found(store, id).await
}

/// Deletes an archived profile and the documents uploaded with it; with documents, only once
/// `confirmed` (otherwise it says what would go).
pub async fn delete(
    profiles: &dyn ProfileStore,
    documents: &dyn DocumentStore,
    id: Uuid,
    confirmed: bool,
) -> Result<ProfileDeletion, Error> {
    let profile = found(profiles, id).await?;
    refuse_in_use(&profile, "delete")?;
    if !profile.is_archived {
        return Err(refuse(
            "Profile must be archived before deletion. Archive it first.",
        ));
    }
    let (ids, chunks) = profiles.profile_documents(id).await?;
    let deletion = ProfileDeletion {
        confirmed: confirmed || ids.is_empty(),
        documents: ids.len() as i64,
        chunks,
    };
    if !deletion.confirmed {
        return Ok(deletion);
    }
    for document in ids {
        match documents.delete_document(document).await {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if !profiles.delete_profile(id).await? {
        return Err(changed_meanwhile());
    }
    Ok(deletion)
}
