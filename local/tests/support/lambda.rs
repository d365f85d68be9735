//! The Lambda service's side of a function, for tests and the init benchmark: a Runtime API
//! (`/2018-06-01/runtime/…`, the interface every Lambda runtime client polls) that hands the real
//! function binary the events a test gives it and returns what the function answered. Real
//! API Gateway and SQS event payloads go in; the serialized responses come out, as Lambda would
//! pass them back to API Gateway or the event source mapping.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::{mpsc, oneshot},
};

/// A function binary built beside `ragbase` (`cargo build --workspace`, as `local/test` does).
pub fn binary(name: &str) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_BIN_EXE_ragbase")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: build the functions first (cargo build --workspace)",
        path.display()
    );
    path
}

type Answer = oneshot::Sender<Result<Value, Value>>;

#[derive(Default)]
struct Runtime {
    /// Events waiting for the function's next poll.
    queued: tokio::sync::Mutex<Option<mpsc::Receiver<(Value, Answer)>>>,
    /// Invocations handed out, by request id, waiting for their answer.
    pending: Mutex<HashMap<String, Answer>>,
    /// When the function first asked for an event: the end of its init.
    first_poll: Mutex<Option<Instant>>,
}

/// A running function: its process, its stdout lines (logs and EMF metrics), and the Runtime
/// API it polls.
pub struct Function {
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    events: mpsc::Sender<(Value, Answer)>,
    runtime: Arc<Runtime>,
    started: Instant,
}

impl Function {
    /// Starts `binary` with `env` (and nothing else from this process's environment but PATH),
    /// as Lambda would start it in a fresh execution environment.
    pub async fn start(binary: PathBuf, env: &[(&str, &str)]) -> Self {
        let (events, queued) = mpsc::channel(16);
        let runtime = Arc::new(Runtime {
            queued: tokio::sync::Mutex::new(Some(queued)),
            ..Runtime::default()
        });
        let api = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(runtime.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, api).await });
        let name = binary.file_name().unwrap().to_string_lossy().into_owned();
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("ragbase-{name}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/ragbase-{name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let sink = stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            stdout,
            events,
            runtime,
            started,
        }
    }

    /// Invokes the function with `event`; `Ok` with its response, `Err` with its error report.
    pub async fn invoke(&self, event: Value) -> Result<Value, Value> {
        let (answer, answered) = oneshot::channel();
        self.events.send((event, answer)).await.unwrap();
        let Ok(answer) = tokio::time::timeout(Duration::from_secs(20), answered).await else {
            panic!(
                "no answer within 20 s; the function's output:\n{}",
                self.stdout.lock().unwrap().join("\n")
            );
        };
        answer.expect("the function's runtime stayed up")
    }

    /// From process start to the function's first poll for an event: its init.
    pub async fn init_time(&self) -> Duration {
        loop {
            if let Some(polled) = *self.runtime.first_poll.lock().unwrap() {
                return polled - self.started;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn next(State(runtime): State<Arc<Runtime>>) -> impl IntoResponse {
    runtime
        .first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let mut queued = runtime.queued.lock().await;
    let Some((event, answer)) = queued.as_mut().unwrap().recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), Json(Value::Null));
    };
    let id = uuid::Uuid::new_v4().to_string();
    runtime.pending.lock().unwrap().insert(id.clone(), answer);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 300_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:ragbase"
            .parse()
            .unwrap(),
    );
    (StatusCode::OK, headers, Json(event))
}

// The runtime client posts JSON without always saying so: the bodies are read as bytes.
async fn respond(
    State(runtime): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    settle(&runtime, &id, Ok(json_of(&body)))
}

async fn fail(
    State(runtime): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    settle(&runtime, &id, Err(json_of(&body)))
}

async fn init_error(body: Bytes) -> StatusCode {
    panic!(
        "the function failed its init: {}",
        String::from_utf8_lossy(&body)
    );
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| json!(String::from_utf8_lossy(body)))
}

fn settle(runtime: &Runtime, id: &str, outcome: Result<Value, Value>) -> StatusCode {
    if let Some(answer) = runtime.pending.lock().unwrap().remove(id) {
        let _ = answer.send(outcome);
    }
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload format 2.0) event, as AWS sends it.
pub fn http_api_event(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r4gb4s3",
            "domainName": "r4gb4s3.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "r4gb4s3",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "25/Nov/2026:03:00:00 +0000",
            "timeEpoch": 1_795_575_600_000_u64
        },
        "body": body.map(base64),
        "isBase64Encoded": body.is_some()
    })
}

/// An API Gateway REST API (payload format 1.0) event on stage `prod`, as AWS sends it.
pub fn rest_api_event(
    method: &str,
    resource: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let multi_headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let query_map: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let multi_query: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    let no_map = |m: serde_json::Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    json!({
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": no_map(query_map),
        "multiValueQueryStringParameters": no_map(multi_query),
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r4gb4s3",
            "domainName": "r4gb4s3.execute-api.us-east-1.amazonaws.com",
            "httpMethod": method,
            "identity": {"sourceIp": "198.51.100.23", "userAgent": "curl/8.5.0"},
            "path": format!("/prod{path}"),
            "protocol": "HTTP/1.1",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "requestTime": "25/Nov/2026:03:00:00 +0000",
            "requestTimeEpoch": 1_795_575_600_000_u64,
            "resourceId": "abc123",
            "resourcePath": resource,
            "stage": "prod"
        },
        "body": body.map(base64),
        "isBase64Encoded": body.is_some()
    })
}

fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// The body of an API Gateway response, decoded.
pub fn response_body(response: &Value) -> Vec<u8> {
    let body = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"] == true {
        BASE64.decode(body).unwrap()
    } else {
        body.as_bytes().to_vec()
    }
}
