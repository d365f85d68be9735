//! The axum `Router` that every runtime serves, and serving it for the long-running ones.

mod analytics;
mod bulk;
mod client_ip;
pub mod console;
mod documents;
pub mod errors;
mod events;
mod extract;
mod guard;
pub(crate) mod observe;
mod openapi;
mod probes;
mod profiles;
mod query;
mod serve;
pub mod types;

pub use self::{openapi::openapi, serve::serve};

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    handler::Handler,
    http::{HeaderName, HeaderValue, Method, Response, header},
    middleware::{from_fn_with_state, map_response, map_response_with_state},
    routing::{MethodRouter, delete, get, patch, post, put},
};
use tokio::sync::{Semaphore, watch};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use self::errors::ApiError;

use crate::{
    Error,
    alerts::Alerts,
    config::Config,
    ports::{
        ApiStore, ChunkCatalog, ChunkSearch, DocumentEvents, DocumentStore, Embedder,
        ProcessingAnalytics, ProfileStore, Queue, RateLimiter, ReadinessCheck,
    },
    telemetry::Metrics,
};

/// Everything a request handler may reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub documents: Arc<dyn DocumentStore>,
    pub chunks: Arc<dyn ChunkSearch>,
    pub events: Arc<dyn DocumentEvents>,
    pub catalog: Arc<dyn ChunkCatalog>,
    pub analytics: Arc<dyn ProcessingAnalytics>,
    pub profiles: Arc<dyn ProfileStore>,
    pub queue: Arc<dyn Queue>,
    /// `None` where no route needs it: the Lambda functions other than search do without the model.
    pub embedder: Option<Arc<dyn Embedder>>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub readiness: Arc<[Arc<dyn ReadinessCheck>]>,
    pub metrics: Metrics,
    pub alerts: Arc<Alerts>,
    pub started: Instant,
    /// One permit per upload that may be in memory at once.
    pub uploads: Arc<Semaphore>,
    /// Set to true when the server shuts down: the event streams end.
    pub closing: Arc<watch::Sender<bool>>,
    api_keys: Arc<[[u8; 32]]>,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Arc<dyn ApiStore>,
        queue: Arc<dyn Queue>,
        embedder: Option<Arc<dyn Embedder>>,
        rate_limiter: Arc<dyn RateLimiter>,
        readiness: Vec<Arc<dyn ReadinessCheck>>,
    ) -> Self {
        let api_keys = config
            .http
            .api_keys
            .iter()
            .map(|k| crate::domain::sha256(k.as_bytes()))
            .collect();
        let uploads = Arc::new(Semaphore::new(config.http.concurrent_uploads));
        Self {
            alerts: Arc::new(Alerts::new(
                config.ops.alert_webhook_url.clone(),
                config.ops.alert_threshold,
            )),
            config: Arc::new(config),
            documents: store.clone(),
            chunks: store.clone(),
            events: store.clone(),
            catalog: store.clone(),
            analytics: store.clone(),
            profiles: store,
            queue,
            embedder,
            rate_limiter,
            readiness: readiness.into(),
            metrics: Metrics::install(),
            started: Instant::now(),
            uploads,
            closing: Arc::new(watch::Sender::new(false)),
            api_keys,
        }
    }
}

/// A set of routes to serve: all of them (`ragbase serve`), or one Lambda function's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    All,
    /// `GET /health`, `/ready`, `/live` and `/metrics`: what a `ragbase worker` serves.
    Probes,
    /// `POST /api/documents`.
    Upload,
    /// Listing, reading, deleting, retrying and (de)activating documents, the web console
    /// that does so, the chunk explorer and analytics routes, and the processing profiles.
    Documents,
    /// `POST /api/query`.
    Search,
    /// `GET /health`, `/ready` and `/live`.
    Health,
    /// `GET /metrics`.
    Metrics,
}

impl Routes {
    fn has(self, part: Self) -> bool {
        self == Self::All
            || self == part
            || (self == Self::Probes && matches!(part, Self::Health | Self::Metrics))
    }
}

/// Every route: what `ragbase serve` serves.
pub fn router(state: AppState) -> Router {
    router_for(Routes::All, state)
}

/// The routes of `routes`, with the same layers (request ids, limits, metrics, errors) as all.
pub fn router_for(routes: Routes, state: AppState) -> Router {
    let mut router = Router::new();
    if routes.has(Routes::Health) {
        router = router
            .route("/health", get(probes::health))
            .route("/ready", get(probes::ready))
            .route("/live", get(probes::live));
    }
    if routes.has(Routes::Metrics) {
        router = router.route("/metrics", get(probes::metrics));
    }
    if routes.has(Routes::Documents) {
        router = router
            .route("/", get(console::page))
            .route("/console/{file}", get(console::asset));
    }
    if let Some(api) = api_routes(routes, &state) {
        router = router.nest("/api", api);
    }
    if routes == Routes::All {
        // A long-lived stream, which only a long-running server can hold.
        let events = get(events::stream)
            .layer(from_fn_with_state(
                state.clone(),
                guard::authenticate_stream,
            ))
            .layer(from_fn_with_state(state.clone(), guard::rate_limit));
        router = router
            .route("/api/events", events)
            .route("/openapi.json", get(openapi::document))
            .merge(SwaggerUi::new("/docs").config(SwaggerConfig::from("/openapi.json")));
    }
    with_platform_layers(router, state)
}

fn api_routes(routes: Routes, state: &AppState) -> Option<Router<AppState>> {
    let mut api = Router::new();
    let mut documents = MethodRouter::new();
    if routes.has(Routes::Documents) {
        documents = documents.get(documents::list);
        api = api
            .route(
                "/documents/{id}",
                get(documents::get).delete(documents::delete),
            )
            .route("/documents/{id}/content", get(documents::content))
            .route("/documents/{id}/retry", post(documents::retry))
            .route(
                "/documents/{id}/availability",
                patch(documents::set_availability),
            )
            .route(
                "/documents/bulk/availability",
                patch(bulk::set_availability),
            )
            .route("/documents/bulk/delete", post(bulk::delete))
            .route("/documents/bulk/retry", post(bulk::retry))
            .route("/chunks", get(analytics::chunks))
            .route("/chunks/{id}", get(analytics::chunk))
            .route("/analytics/overview", get(analytics::overview))
            .route("/analytics/processing", get(analytics::processing))
            .route("/analytics/quality", get(analytics::quality))
            .route("/analytics/documents", get(analytics::documents))
            .route(
                "/analytics/documents/{id}/chunks",
                get(analytics::document_chunks),
            )
            .route("/profiles", get(profiles::list).post(profiles::create))
            .route("/profiles/active", get(profiles::active))
            .route("/profiles/{id}", delete(profiles::delete))
            .route("/profiles/{id}/duplicate", post(profiles::duplicate))
            .route("/profiles/{id}/activate", put(profiles::activate))
            .route("/profiles/{id}/archive", put(profiles::archive))
            .route("/profiles/{id}/unarchive", put(profiles::unarchive));
    }
    if routes.has(Routes::Upload) {
        // The upload is bounded by MAX_FILE_SIZE_MB (below), not by axum's 2 MB default.
        // Bounded by MAX_FILE_SIZE_MB each, and in number by UPLOAD_MEMORY_MB.
        let upload = documents::upload.layer(from_fn_with_state(state.clone(), guard::upload_slot));
        documents = documents.post(upload).layer(DefaultBodyLimit::disable());
    }
    if routes.has(Routes::Upload) || routes.has(Routes::Documents) {
        api = api.route("/documents", documents);
    }
    if routes.has(Routes::Search) {
        api = api.route("/query", post(query::query));
    } else if !routes.has(Routes::Upload) && !routes.has(Routes::Documents) {
        return None;
    }
    Some(
        api
            // Unknown /api paths pass the same gate as real ones, so they reveal nothing to
            // strangers.
            .fallback(|| async { ApiError::from(Error::NotFound("Route not found".into())) })
            // Layers run last-added first: count the request against the limit, then check the
            // key, so key guessing is rate limited too.
            .layer(from_fn_with_state(state.clone(), guard::authenticate))
            .layer(from_fn_with_state(state.clone(), guard::rate_limit)),
    )
}

/// Request ids, tracing, errors logged, JSON error bodies, panics caught, body limits, CORS and
/// metrics.
fn with_platform_layers(routes: Router<AppState>, state: AppState) -> Router {
    let config = &state.config;
    let limit_mb = config.http.max_file_size_bytes / (1024 * 1024);
    // Multipart framing around the largest allowed file.
    let body_limit =
        usize::try_from(config.http.max_file_size_bytes + 1024 * 1024).unwrap_or(usize::MAX);
    let request_id = HeaderName::from_static("x-request-id");

    routes
        .layer(from_fn_with_state(state.clone(), guard::time_limit))
        // Inside the metrics: a panic is answered 500 and counted like any other.
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(state.clone(), observe::record))
        .layer(cors(config))
        .layer(RequestBodyLimitLayer::new(body_limit))
        // Inside the request's span, so an error's log line carries its request id.
        .layer(map_response_with_state(limit_mb, errors::json_error_bodies))
        .layer(map_response(errors::log_errors))
        .layer(map_response(security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::extract::Request| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = id)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

fn cors(config: &Config) -> CorsLayer {
    let origins = if config.http.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .http
                .cors_origins
                .iter()
                .filter_map(|o| o.parse().ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            header::RETRY_AFTER,
        ])
}

/// What a browser should assume of every answer: its type is as declared, it is never framed,
/// and it sends no referrer on.
async fn security_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
