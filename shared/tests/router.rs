//! The HTTP contract at the router level: every error body of the contract that exists so far,
//! probes, request ids, CORS and metrics. The store is a stand-in; PostgreSQL and Redis are
//! exercised through the real binary in `local/tests`.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    extract::connect_info::MockConnectInfo,
    http::{Request, StatusCode, header},
};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use ragbase::{
    Error,
    adapters::memory_rate_limiter::MemoryRateLimiter,
    config::Config,
    domain::{
        analytics::{
            ChunkPage, ChunkQuery, ExploredChunk, MetricTotals, MetricsPage, MetricsQuery,
            Overview, QualitySummary, Trend,
        },
        documents::{
            Document, DocumentContent, DocumentPage, DocumentQuery, NewDocument, StatusCounts,
        },
        events::DocumentEvent,
        formats::Format,
        profiles::{NewProfile, Profile},
        query::{Keywords, SearchFilter},
        ranking::ChunkHit,
    },
    http::{AppState, Routes, router, router_for},
    ports::{
        ChunkCatalog, ChunkSearch, DocumentEvents, DocumentStore, Embedder, Job,
        ProcessingAnalytics, ProfileStore, Queue, QueueSizes, ReadinessCheck,
    },
};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

/// An empty collection that remembers the last listing query it was asked.
#[derive(Default)]
struct EmptyStore {
    last_query: Mutex<Option<DocumentQuery>>,
    created: Mutex<Option<NewDocument>>,
}

#[async_trait]
impl DocumentStore for EmptyStore {
    async fn list_documents(&self, query: &DocumentQuery) -> Result<DocumentPage, Error> {
        *self.last_query.lock().unwrap() = Some(query.clone());
        Ok(DocumentPage {
            documents: vec![],
            total: 0,
            counts: StatusCounts::default(),
        })
    }

    async fn document(&self, id: Uuid) -> Result<Option<Document>, Error> {
        // The one id that makes a handler panic, for the test that panics are answered.
        assert_ne!(id, Uuid::max(), "asked to panic");
        Ok(None)
    }

    async fn create_document(&self, new: NewDocument) -> Result<Document, Error> {
        *self.created.lock().unwrap() = Some(new);
        Err(Error::Internal("this stand-in stores nothing".into()))
    }

    async fn delete_document(&self, _id: Uuid) -> Result<(), Error> {
        Err(Error::NotFound("Document not found".into()))
    }

    async fn retry_document(&self, _id: Uuid) -> Result<Document, Error> {
        Err(Error::NotFound("Document not found".into()))
    }

    async fn set_availability(&self, _id: Uuid, _active: bool) -> Result<Document, Error> {
        Err(Error::NotFound("Document not found".into()))
    }

    async fn document_content(&self, _id: Uuid) -> Result<DocumentContent, Error> {
        Err(Error::NotFound("Document not found".into()))
    }
}

#[async_trait]
impl ChunkSearch for EmptyStore {
    async fn nearest_chunks(
        &self,
        _vector: &[f32],
        _filter: &SearchFilter,
        _limit: usize,
    ) -> Result<Vec<ChunkHit>, Error> {
        Ok(Vec::new())
    }

    async fn keyword_ranking(
        &self,
        _keywords: &Keywords,
        _filter: &SearchFilter,
        _limit: usize,
    ) -> Result<Vec<Uuid>, Error> {
        Ok(Vec::new())
    }

    async fn chunks_by_id(&self, _ids: &[Uuid], _vector: &[f32]) -> Result<Vec<ChunkHit>, Error> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl DocumentEvents for EmptyStore {
    async fn latest_event(&self) -> Result<i64, Error> {
        Ok(0)
    }

    async fn events_after(&self, _after: i64, _limit: u32) -> Result<Vec<DocumentEvent>, Error> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl ChunkCatalog for EmptyStore {
    async fn list_chunks(&self, _query: &ChunkQuery) -> Result<ChunkPage, Error> {
        Ok(ChunkPage {
            chunks: Vec::new(),
            total: 0,
        })
    }

    async fn chunk(&self, _id: Uuid) -> Result<Option<ExploredChunk>, Error> {
        Ok(None)
    }
}

#[async_trait]
impl ProcessingAnalytics for EmptyStore {
    async fn overview(&self, _since: DateTime<Utc>) -> Result<Overview, Error> {
        Ok(Overview::default())
    }

    async fn metric_totals(
        &self,
        _since: DateTime<Utc>,
        _format: Option<Format>,
    ) -> Result<MetricTotals, Error> {
        Ok(MetricTotals::default())
    }

    async fn trends(
        &self,
        _since: DateTime<Utc>,
        _format: Option<Format>,
        _hourly: bool,
    ) -> Result<Vec<Trend>, Error> {
        Ok(Vec::new())
    }

    async fn quality(&self, _since: DateTime<Utc>) -> Result<QualitySummary, Error> {
        Ok(QualitySummary::default())
    }

    async fn processed_documents(&self, _query: &MetricsQuery) -> Result<MetricsPage, Error> {
        Ok(MetricsPage {
            documents: Vec::new(),
            total: 0,
        })
    }
}

/// No profiles, and every name taken.
#[async_trait]
impl ProfileStore for EmptyStore {
    async fn list_profiles(&self, _include_archived: bool) -> Result<Vec<Profile>, Error> {
        Ok(Vec::new())
    }

    async fn profile(&self, _id: Uuid) -> Result<Option<Profile>, Error> {
        Ok(None)
    }

    async fn active_profile(&self) -> Result<Option<Profile>, Error> {
        Ok(None)
    }

    async fn create_profile(&self, new: &NewProfile) -> Result<Profile, Error> {
        Err(Error::Conflict(format!("{} is taken", new.name)))
    }

    async fn activate_profile(&self, _id: Uuid) -> Result<bool, Error> {
        Ok(false)
    }

    async fn set_archived(&self, _id: Uuid, _archived: bool) -> Result<bool, Error> {
        Ok(false)
    }

    async fn profile_documents(&self, _id: Uuid) -> Result<(Vec<Uuid>, i64), Error> {
        Ok((Vec::new(), 0))
    }

    async fn delete_profile(&self, _id: Uuid) -> Result<bool, Error> {
        Ok(false)
    }
}

/// Embeds everything as one vector, and fails on the text "unembeddable".
struct StubEmbedder;

impl Embedder for StubEmbedder {
    fn dimensions(&self) -> usize {
        3
    }

    fn max_tokens(&self) -> usize {
        256
    }

    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        if texts.contains(&"unembeddable") {
            return Err(Error::Internal("model crashed".into()));
        }
        Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0]).collect())
    }
}

/// A queue that holds nothing: these tests never get as far as processing.
struct IdleQueue;

#[async_trait]
impl Queue for IdleQueue {
    async fn enqueue(&self, _id: Uuid) -> Result<(), Error> {
        Ok(())
    }

    async fn next(&self, _wait: std::time::Duration) -> Result<Option<Job>, Error> {
        Ok(None)
    }

    async fn keep_alive(&self, _job: &Job) -> Result<(), Error> {
        Ok(())
    }

    async fn complete(&self, _job: &Job) -> Result<(), Error> {
        Ok(())
    }

    async fn retry_later(&self, _job: &Job, _delay: std::time::Duration) -> Result<(), Error> {
        Ok(())
    }

    async fn dead_letter(&self, _job: &Job, _reason: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn sizes(&self) -> Result<QueueSizes, Error> {
        Ok(QueueSizes::default())
    }
}

struct Check(&'static str, bool);

#[async_trait]
impl ReadinessCheck for Check {
    fn name(&self) -> &'static str {
        self.0
    }

    async fn check(&self) -> Result<(), Error> {
        if self.1 {
            Ok(())
        } else {
            Err(Error::backend("database", "connection refused"))
        }
    }
}

/// Two keys, as during a rotation.
const KEY_1: &str = "router-test-key-one-0123";
const KEY_2: &str = "router-test-key-two-0123";

fn app_with(
    vars: &[(&str, &str)],
    checks: Vec<Arc<dyn ReadinessCheck>>,
) -> (Router, Arc<EmptyStore>) {
    let (state, store) = state_with(vars, checks);
    (
        router(state).layer(MockConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            5555,
        )))),
        store,
    )
}

fn state_with(
    vars: &[(&str, &str)],
    checks: Vec<Arc<dyn ReadinessCheck>>,
) -> (AppState, Arc<EmptyStore>) {
    let config = Config::from_lookup(|n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let store = Arc::new(EmptyStore::default());
    let limiter = Arc::new(MemoryRateLimiter::new(config.http.rate_limit_window));
    let state = AppState::new(
        config,
        store.clone(),
        Arc::new(IdleQueue),
        Some(Arc::new(StubEmbedder)),
        limiter,
        checks,
    );
    (state, store)
}

fn app() -> Router {
    app_with(
        &[("API_KEY", &format!("{KEY_1},{KEY_2}"))],
        vec![Arc::new(Check("database", true))],
    )
    .0
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (parts.status, parts.headers, value)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("x-api-key", KEY_1)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn probes_answer_without_a_key() {
    let app = app();
    assert_eq!(
        send(&app, Request::get("/health").body(Body::empty()).unwrap())
            .await
            .2,
        json!({"status": "ok"})
    );
    assert_eq!(
        send(&app, Request::get("/live").body(Body::empty()).unwrap())
            .await
            .2,
        json!({"alive": true})
    );
    let (status, _, body) = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"], json!({"database": true}));
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime"].as_f64().is_some());
}

#[tokio::test]
async fn ready_is_503_degraded_when_a_backend_fails() {
    let checks: Vec<Arc<dyn ReadinessCheck>> = vec![
        Arc::new(Check("database", false)),
        Arc::new(Check("redis", true)),
    ];
    let (app, _) = app_with(&[], checks);
    let (status, _, body) = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"], json!({"database": false, "redis": true}));
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_401_and_either_rotated_key_works() {
    let app = app();
    let expected = json!({"error": "UNAUTHORIZED", "message": "Invalid or missing API key"});
    let (status, _, body) = send(
        &app,
        Request::get("/api/documents").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, expected.clone()));
    let wrong = Request::get("/api/documents")
        .header("x-api-key", "k3")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, wrong).await.2, expected);
    let unknown_route = Request::get("/api/nothing-here")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, unknown_route).await.0,
        StatusCode::UNAUTHORIZED,
        "unknown /api paths are gated too"
    );
    for key in [KEY_1, KEY_2] {
        let ok = Request::get("/api/documents")
            .header("x-api-key", key)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, ok).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_101st_request_in_a_window_is_429_with_the_contract_body() {
    let app = app();
    for i in 1..=100u64 {
        let (status, headers, _) = send(&app, get("/api/documents")).await;
        assert_eq!(status, StatusCode::OK, "request {i}");
        assert_eq!(headers["x-ratelimit-limit"], "100");
        assert_eq!(
            headers["x-ratelimit-remaining"],
            (100 - i).to_string().as_str()
        );
    }
    let (status, headers, body) = send(&app, get("/api/documents")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({"error": "RATE_LIMITED", "message": "Too many requests, please try again later", "retryAfter": "60000"})
    );
    let retry_after: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let probe = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(
        send(&app, probe).await.0,
        StatusCode::OK,
        "probes are never limited"
    );
}

#[tokio::test]
async fn document_routes_validate_their_input() {
    let (app, store) = app_with(&[], vec![]);
    let (status, _, body) = send(&app, get("/api/documents?limit=500")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "VALIDATION_ERROR");
    assert!(body["message"].as_str().unwrap().contains("limit"));

    let (status, _, body) = send(
        &app,
        get("/api/documents?status=COMPLETED&sortBy=filename&sortOrder=asc"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"documents": [], "total": 0, "counts": {"total": 0, "active": 0, "inactive": 0, "pending": 0, "processing": 0, "completed": 0, "failed": 0}})
    );
    let seen = store.last_query.lock().unwrap().clone().unwrap();
    assert_eq!((seen.limit, seen.descending), (20, false));

    let (status, _, body) = send(&app, get("/api/documents/not-a-uuid")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ID"))
    );
    let (status, _, body) = send(&app, get(&format!("/api/documents/{}", Uuid::new_v4()))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn query_validates_its_body_and_reports_a_failed_model_as_503() {
    let app = app_with(&[], vec![]).0;
    let post = |body: &str| {
        Request::post("/api/query")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    for (body, mentions) in [
        ("{\"query\": ", "JSON"),
        ("{\"query\": 42}", "query"),
        ("{\"query\": \"\"}", "query"),
        ("{\"query\": \"q\", \"topK\": 0}", "topK"),
        ("{\"query\": \"q\", \"mode\": \"keyword\"}", "mode"),
        ("{\"query\": \"q\", \"alpha\": -0.1}", "alpha"),
        (
            "{\"query\": \"q\", \"documentIds\": [\"x\"]}",
            "documentIds",
        ),
    ] {
        let (status, _, reply) = send(&app, post(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply["error"], "VALIDATION_ERROR", "{body}");
        let message = reply["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }

    let (status, _, reply) = send(&app, post("{\"query\": \"unembeddable\"}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply["error"], "EMBEDDING_SERVICE_ERROR");

    let (status, _, reply) = send(&app, post("{\"query\": \"lift\", \"mode\": \"hybrid\"}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reply,
        json!({"mode": "hybrid", "alpha": 0.7, "results": []})
    );
}

#[tokio::test]
async fn framework_errors_have_json_bodies_too() {
    let app = app();
    let (status, _, body) = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    let (status, headers, body) = send(
        &app,
        Request::delete("/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED"))
    );
    assert!(headers.contains_key(header::ALLOW));
    let huge = Request::post("/api/documents")
        .header("x-api-key", KEY_1)
        .header(header::CONTENT_LENGTH, (60 * 1024 * 1024).to_string())
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&app, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body,
        json!({"error": "FILE_TOO_LARGE", "message": "Request body exceeds the 50 MB limit"})
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = app();
    let mine = Request::get("/health")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, mine).await.1["x-request-id"], "abc-123");
    let (_, headers, _) = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    let generated = headers["x-request-id"].to_str().unwrap();
    assert!(Uuid::parse_str(generated).is_ok(), "{generated}");
    assert!(!headers.contains_key("x-powered-by"));
}

#[tokio::test]
async fn cors_allows_exactly_the_configured_origins() {
    let (app, _) = app_with(&[("CORS_ORIGIN", "https://app.example")], vec![]);
    let preflight = |origin: &str| {
        Request::options("/api/documents")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "x-api-key,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let (_, headers, _) = send(&app, preflight("https://app.example")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(
        allowed.contains("x-api-key") && allowed.contains("content-type"),
        "{allowed}"
    );
    let (_, headers, _) = send(&app, preflight("https://evil.example")).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn metrics_expose_the_contract_names_and_count_requests_by_route_pattern() {
    let app = app();
    send(&app, get(&format!("/api/documents/{}", Uuid::new_v4()))).await;
    let (status, headers, body) =
        send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = body.as_str().unwrap().to_owned();
    for name in [
        "http_requests_total",
        "http_request_duration_seconds",
        "documents_processed_total",
        "processing_queue_size",
        "embedding_generation_duration_seconds",
        "process_resident_memory_bytes",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing from:\n{text}"
        );
    }
    assert!(
        text.contains(r#"path="/api/documents/{id}",status="404""#),
        "{text}"
    );
    assert!(
        !text.contains("path=\"/api/documents/0"),
        "raw URLs must not become labels"
    );
}

#[tokio::test]
async fn a_panicking_handler_is_answered_500_and_counted_like_any_error() {
    let app = app();
    let (status, _, body) = send(&app, get(&format!("/api/documents/{}", Uuid::max()))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "INTERNAL_ERROR", "{body}");
    let (_, _, metrics) = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains(r#"path="/api/documents/{id}",status="500""#),
        "{text}"
    );
}

#[tokio::test]
async fn invented_methods_cannot_mint_metric_series() {
    let app = app();
    for n in 0..50_000 {
        let method = axum::http::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        let request = Request::builder().method(method).uri("/health");
        let (status, _, _) = send(&app, request.body(Body::empty()).unwrap()).await;
        assert!(status.is_client_error(), "{status}");
    }
    let (_, _, body) = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = body.as_str().unwrap();
    let methods: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    let known = [
        "DELETE", "GET", "HEAD", "OPTIONS", "OTHER", "PATCH", "POST", "PUT",
    ];
    assert!(methods.iter().all(|m| known.contains(m)), "{methods:?}");
    assert!(methods.contains("OTHER"), "{methods:?}");
}

#[tokio::test]
async fn profile_routes_validate_their_input() {
    let (app, _) = app_with(&[], vec![]);
    let create = |body: Value| {
        Request::post("/api/profiles")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, _, body) = send(&app, create(json!({"name": "Fine", "qualityMinChars": 5}))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("qualityMinChars"),
        "{body}"
    );
    let (status, _, body) = send(&app, create(json!({"name": "Fine"}))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT"))
    );

    let duplicate = |body: &'static str| {
        let uri = format!("/api/profiles/{}/duplicate", Uuid::new_v4());
        let json = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        json.body(Body::from(body)).unwrap()
    };
    let (status, _, body) = send(&app, duplicate("[null]")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("The JSON body must be an object")
        )
    );
    for none in ["", "null", "{}"] {
        let (status, _, _) = send(&app, duplicate(none)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{none:?}: read as no body");
    }

    let (status, _, body) = send(&app, get("/api/profiles?includeArchived=maybe")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"))
    );
    let (status, _, body) = send(&app, get("/api/profiles/active")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    for uri in [
        "/api/profiles/not-a-uuid/activate",
        &format!("/api/profiles/{}/archive", Uuid::new_v4()),
    ] {
        let request = Request::put(uri).body(Body::empty()).unwrap();
        let (status, _, body) = send(&app, request).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "{uri}"
        );
    }
}

fn upload(filename: &str, bytes: &[u8]) -> Request<Body> {
    let mut body = format!(
        "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XYZ--\r\n");
    Request::post("/api/documents")
        .header("x-api-key", KEY_1)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn uploads_are_checked_before_anything_is_stored() {
    let (app, store) = app_with(&[("API_KEY", KEY_1), ("MAX_FILE_SIZE_MB", "1")], vec![]);
    let code = |r: (StatusCode, axum::http::HeaderMap, Value)| {
        (r.0, r.2["error"].as_str().unwrap_or("").to_owned())
    };

    let no_file = Request::post("/api/documents")
        .header("x-api-key", KEY_1)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
        .body(Body::from(
            "--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XYZ--\r\n",
        ))
        .unwrap();
    assert_eq!(
        code(send(&app, no_file).await),
        (StatusCode::BAD_REQUEST, "NO_FILE".into())
    );
    assert_eq!(
        code(send(&app, upload("../etc/passwd", b"x")).await),
        (StatusCode::BAD_REQUEST, "INVALID_FILENAME".into())
    );
    assert_eq!(
        code(send(&app, upload("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")).await),
        (StatusCode::BAD_REQUEST, "INVALID_FORMAT".into())
    );
    let (status, _, body) = send(&app, upload("big.txt", &vec![b'a'; 1024 * 1024 + 1])).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::PAYLOAD_TOO_LARGE, &json!("FILE_TOO_LARGE"))
    );
    assert_eq!(body["message"], "Request body exceeds the 1 MB limit");
    assert!(
        store.created.lock().unwrap().is_none(),
        "nothing reached the store"
    );

    // A PDF named .docx is taken for what it is.
    send(&app, upload("really-a-pdf.docx", b"%PDF-1.4 ...")).await;
    let created = store.created.lock().unwrap().take().unwrap();
    assert_eq!(
        (created.filename.as_str(), created.format),
        ("really-a-pdf.docx", Format::Pdf)
    );
}

#[tokio::test]
async fn availability_needs_a_boolean_body() {
    let app = app();
    let patch = |body: &str| {
        Request::patch(format!("/api/documents/{}/availability", Uuid::new_v4()))
            .header("x-api-key", KEY_1)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    for bad in ["{", "{\"isActive\": \"yes\"}", "{}"] {
        let (status, _, body) = send(&app, patch(bad)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    let (status, _, body) = send(&app, patch("{\"isActive\": false}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

/// Each method, and whether the path documents it.
fn methods_of(item: &utoipa::openapi::PathItem) -> [(&'static str, bool); 5] {
    [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("PATCH", item.patch.is_some()),
        ("DELETE", item.delete.is_some()),
    ]
}

/// The OpenAPI document and the router agree: every path the router serves is documented (the
/// reference page at /docs, the console and their assets aside), every documented operation is served, and
/// every method a path does not document is refused.
#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    // Five methods a path: more requests than the default rate limit allows.
    let keys = format!("{KEY_1},{KEY_2}");
    let (app, _) = app_with(&[("API_KEY", &keys), ("RATE_LIMIT_MAX", "1000")], vec![]);
    let document = ragbase::http::openapi();
    let served: BTreeSet<String> = served_paths(&app)
        .into_iter()
        .filter(|path| !path.starts_with("/docs") && !path.starts_with("/console"))
        .collect();
    let documented: BTreeSet<String> = document.paths.paths.keys().cloned().collect();
    assert_eq!(served, documented);
    assert!(
        format!("{app:?}").contains("\"/docs/{*rest}\""),
        "the reference page is served"
    );

    let id = Uuid::new_v4().to_string();
    for (path, item) in &document.paths.paths {
        let uri = path.replace("{id}", &id);
        for (method, documented) in methods_of(item) {
            let request = Request::builder()
                .method(method)
                .uri(&uri)
                .header("x-api-key", KEY_1)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            // Only the status: the events stream's body never ends.
            let status = app.clone().oneshot(request).await.unwrap().status();
            if documented {
                // A 404 here is the made-up document; an unknown route would be 404 to every
                // method, which the undocumented methods' 405 rules out.
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
}

/// The paths a router serves, from its own table as its debug form prints it (axum cannot list
/// its routes): the paths in quotes, but for "/" and "/api", where the fallbacks catch unknown
/// paths ("Route not found").
fn served_paths(router: &Router) -> BTreeSet<String> {
    format!("{router:?}")
        .split('"')
        .filter(|piece| piece.starts_with('/') && !piece.contains("__private__"))
        .filter(|path| !["/", "/api"].contains(path))
        .map(str::to_owned)
        .collect()
}

/// Each function's HTTP API routes in template.yaml, as (method, path): the lines of its
/// resource (indented deeper than the resources' names) that give a method and a path.
fn template_routes(function: &str) -> BTreeSet<(String, String)> {
    let header = format!("  {function}:");
    let routes: BTreeSet<_> = include_str!("../../template.yaml")
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with("   "))
        .filter_map(|line| {
            let (_, rest) = line.split_once("Method: ")?;
            let (method, rest) = rest.split_once(", Path: ")?;
            let path = rest.trim_end_matches(" }").trim_matches('"');
            Some((method.to_owned(), path.to_owned()))
        })
        .collect();
    assert!(!routes.is_empty(), "{function} has routes in template.yaml");
    routes
}

/// API Gateway sends each path to the function whose router serves it: every path a function
/// serves is routed to it, and every route sent to it is served (not 404 or 405).
#[tokio::test]
async fn the_sam_template_routes_each_path_to_the_function_that_serves_it() {
    let functions = [
        ("UploadFunction", Routes::Upload),
        ("DocumentsFunction", Routes::Documents),
        ("SearchFunction", Routes::Search),
        ("HealthFunction", Routes::Health),
        ("MetricsFunction", Routes::Metrics),
    ];
    for (function, routes) in functions {
        let (state, _) = state_with(&[("API_KEY", KEY_1)], vec![]);
        let app = router_for(routes, state).layer(MockConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            5555,
        ))));
        let routed = template_routes(function);
        let paths: BTreeSet<String> = routed
            .iter()
            .map(|(_, p)| p.clone())
            .filter(|p| p != "/")
            .collect();
        assert_eq!(paths, served_paths(&app), "{function}");
        for (method, path) in &routed {
            let uri = path.replace("{id}", "bulk").replace("{file}", "main.js");
            let request = Request::builder()
                .method(method.as_str())
                .uri(&uri)
                .header("x-api-key", KEY_1)
                .body(Body::empty())
                .unwrap();
            let (status, _, body) = send(&app, request).await;
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{function}: {method} {path}"
            );
            assert_ne!(
                body["message"], "Route not found",
                "{function}: {method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn every_answer_tells_browsers_not_to_sniff_frame_or_refer() {
    let app = app();
    for request in [
        Request::get("/health").body(Body::empty()).unwrap(),
        get("/api/documents/not-an-id"),
        Request::get("/docs/").body(Body::empty()).unwrap(),
    ] {
        let (_, headers, _) = send(&app, request).await;
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
}

/// The reference page and everything it loads come from the binary, and it reads this server's
/// document.
#[tokio::test]
async fn the_reference_page_is_served_from_the_binary() {
    let app = app();
    let (status, headers, page) =
        send(&app, Request::get("/docs/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.as_str().unwrap().to_owned();
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        assert!(page.contains(asset), "{asset}");
        let (status, _, body) = send(
            &app,
            Request::get(format!("/docs/{asset}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(body.as_str().unwrap().contains("/openapi.json"), "{body}");
        }
    }
    assert!(
        !page.contains("https://"),
        "nothing is loaded from elsewhere"
    );
}

/// The console's page, and every script and style sheet it loads or imports, are served from the
/// binary without a key, with a policy that lets them load nothing from elsewhere.
#[tokio::test]
async fn the_console_and_everything_it_loads_are_served_from_the_binary() {
    let app = app();
    let mut wanted = vec!["/".to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(path) = wanted.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (status, headers, body) =
            send(&app, Request::get(&path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self'"), "{policy}");
        let media_type = headers[header::CONTENT_TYPE].to_str().unwrap();
        let expected = match path.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => "text/html",
        };
        assert!(media_type.starts_with(expected), "{path}: {media_type}");
        let text = body.as_str().unwrap().to_owned();
        assert!(
            !text.contains("https://") && !text.contains("http://"),
            "{path}"
        );
        // What the page links and each module imports: "/console/x" or "./x".
        for piece in text
            .split('"')
            .filter(|p| p.ends_with(".js") || p.ends_with(".css"))
        {
            wanted.push(format!(
                "/console/{}",
                piece
                    .trim_start_matches("/console/")
                    .trim_start_matches("./")
            ));
        }
    }
    // Every asset is reached from the page: none is left over.
    assert_eq!(
        seen.len(),
        1 + ragbase::http::console::ASSETS.len(),
        "{seen:?}"
    );
    let (status, _, _) = send(
        &app,
        Request::get("/console/nope.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The README's API table names the document's operations, no more and no fewer.
#[test]
fn the_readme_api_table_names_every_documented_operation() {
    let readme = include_str!("../../README.md");
    let table =
        &readme[readme.find("\n## API\n").unwrap()..readme.find("\n## Compatibility\n").unwrap()];
    let listed: BTreeSet<String> = table
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once('`'))
        .map(|(route, _)| route.replace(":id", "{id}"))
        .collect();
    let document = ragbase::http::openapi();
    let mut operations = BTreeSet::new();
    for (path, item) in &document.paths.paths {
        for (method, documented) in methods_of(item) {
            if documented {
                operations.insert(format!("{method} {path}"));
            }
        }
    }
    assert_eq!(listed, operations);
}
