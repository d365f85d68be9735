//! The bulk routes' bodies and their partial-success answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::documents::BulkOutcome;

/// `POST /api/documents/bulk/delete` and `/bulk/retry` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    #[schema(value_type = Vec<Uuid>, min_items = 1, max_items = 100)]
    pub document_ids: Vec<String>,
}

/// `PATCH /api/documents/bulk/availability` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkAvailabilityBody {
    #[schema(value_type = Vec<Uuid>, min_items = 1, max_items = 100)]
    pub document_ids: Vec<String>,
    pub is_active: bool,
}

/// A document a bulk request left as it was, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRefusal {
    id: Uuid,
    reason: String,
}

fn refusals(refused: Vec<(Uuid, String)>) -> Vec<BulkRefusal> {
    refused
        .into_iter()
        .map(|(id, reason)| BulkRefusal { id, reason })
        .collect()
}

/// `PATCH /api/documents/bulk/availability`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkUpdated {
    updated: usize,
    failed: Vec<BulkRefusal>,
}

/// `POST /api/documents/bulk/delete`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeleted {
    deleted: usize,
    failed: Vec<BulkRefusal>,
}

/// `POST /api/documents/bulk/retry`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetried {
    retried: usize,
    failed: Vec<BulkRefusal>,
}

macro_rules! from_outcome {
    ($answer:ident, $count:ident) => {
        impl From<BulkOutcome> for $answer {
            fn from(BulkOutcome { changed, refused }: BulkOutcome) -> Self {
                Self {
                    $count: changed,
                    failed: refusals(refused),
                }
            }
        }
    };
}

from_outcome!(BulkUpdated, updated);
from_outcome!(BulkDeleted, deleted);
from_outcome!(BulkRetried, retried);
