//! The web console at `/`: a page and its scripts, compiled into the binary, that use the same
//! HTTP API as every other client.

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::errors::ApiError;
use crate::Error;

/// Each asset under `/console/`: its name, media type and bytes.
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css",
        include_str!("../../console/console.css"),
    ),
    (
        "main.js",
        "text/javascript",
        include_str!("../../console/main.js"),
    ),
    (
        "api.js",
        "text/javascript",
        include_str!("../../console/api.js"),
    ),
    (
        "dom.js",
        "text/javascript",
        include_str!("../../console/dom.js"),
    ),
    (
        "documents.js",
        "text/javascript",
        include_str!("../../console/documents.js"),
    ),
    (
        "upload.js",
        "text/javascript",
        include_str!("../../console/upload.js"),
    ),
    (
        "view.js",
        "text/javascript",
        include_str!("../../console/view.js"),
    ),
    (
        "search.js",
        "text/javascript",
        include_str!("../../console/search.js"),
    ),
];

const PAGE: &str = include_str!("../../console/index.html");

/// Only the console's own files, and requests to this server: no inline script, nothing from
/// elsewhere, never framed.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`.
pub async fn page() -> Response {
    served("text/html", PAGE)
}

/// `GET /console/{file}`.
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, media_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| Error::NotFound("No such console file".into()))?;
    Ok(served(media_type, body))
}

fn served(media_type: &'static str, body: &'static str) -> Response {
    let content_type = format!("{media_type}; charset=utf-8");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("a media type is a valid header"),
    );
    // Revalidated each time, so a new version of the server is never run with old scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}
