//! The JSON body and query string extractors of every route: a malformed one is the API's 400
//! `VALIDATION_ERROR`, in the contract's JSON body, like any other error.

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Query, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use crate::Error;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(request, state)
            .await
            .map_err(|e| Error::Validation(format!("Invalid JSON body: {}", e.body_text())))?;
        Ok(Self(value))
    }
}

/// A JSON body that may be left out: an empty body reads as `T::default()`, whatever its
/// content type (the original's clients send none, or `{}`, to several routes).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| Error::Validation(format!("Unreadable body: {}", e.body_text())))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        let invalid = |e: serde_json::Error| Error::Validation(format!("Invalid JSON body: {e}"));
        // `null` is no body too; anything else must be an object (serde would also read a
        // struct from an array).
        match serde_json::from_slice(&bytes).map_err(invalid)? {
            serde_json::Value::Null => Ok(Self(T::default())),
            object @ serde_json::Value::Object(_) => {
                Ok(Self(serde_json::from_value(object).map_err(invalid)?))
            }
            _ => Err(Error::Validation("The JSON body must be an object".into()).into()),
        }
    }
}

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::Validation(e.body_text()))?;
        Ok(Self(value))
    }
}
