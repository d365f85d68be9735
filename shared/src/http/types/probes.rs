//! The probes' answers.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct HealthAnswer {
    pub status: &'static str,
}

/// `GET /live`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"alive": true}))]
pub struct LiveAnswer {
    pub alive: bool,
}

/// `GET /ready`: each configured backend's check, the version and seconds since start-up.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "checks": {"database": true, "redis": true, "queue": true}, "version": "0.1.0", "uptime": 42.5}))]
pub struct ReadyAnswer {
    /// `ok`, or `degraded` (with 503) when a check fails.
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, bool>,
    pub version: &'static str,
    pub uptime: f64,
}
