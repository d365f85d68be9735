//! Domain types and rules: no HTTP, database or runtime types here.

pub mod analytics;
pub mod blocks;
pub mod chunk_quality;
pub mod chunking;
pub mod documents;
pub mod events;
pub mod failure;
pub mod filename;
pub mod formats;
pub mod processing;
pub mod profiles;
pub mod quality;
pub mod query;
pub mod ranking;
pub mod text;

use sha2::{Digest, Sha256};

/// SHA-256 of some bytes: content hashes for deduplication, API-key comparison.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
