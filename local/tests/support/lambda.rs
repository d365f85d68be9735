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

use super::{TestDb, model_dir, run_ragbase, shared, start_services};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
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

pub const KEY: &str = "lambda-test-key-0123456789";

/// A deployment's backing services, as `template.yaml` wires them: a migrated database, a queue
/// with its dead-letter queue (maxReceiveCount 3), Redis, and the functions' environment.
pub struct Deployment {
    pub db: TestDb,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    dead_letter_url: String,
    endpoint: String,
    /// The Secrets Manager secrets holding DATABASE_URL and API_KEY, as the template makes them.
    secret_arns: [(&'static str, String); 2],
}

impl Deployment {
    pub async fn new() -> Self {
        let db = TestDb::create().await;
        let (ok, out) = run_ragbase(&["migrate"], &[("DATABASE_URL", &db.url)]).await;
        assert!(ok, "{out}");
        let endpoint = start_services(&[], &["sqs"]).sqs_endpoint.unwrap();
        let config = aws_config::from_env()
            .region("us-east-1")
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let name = uuid::Uuid::new_v4().simple().to_string();
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let secret_arns = [
            (
                "DATABASE_URL_SECRET_ARN",
                create_secret(&secrets, &name, "db", &db.url).await,
            ),
            (
                "API_KEY_SECRET_ARN",
                create_secret(&secrets, &name, "key", KEY).await,
            ),
        ];
        let dead_letter_url = create_queue(&sqs, &format!("dead-{name}"), &[]).await;
        let dead_letter_arn = sqs
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        let redrive = json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": "3"});
        let queue_url = create_queue(
            &sqs,
            &format!("jobs-{name}"),
            &[(QueueAttributeName::RedrivePolicy, redrive.to_string())],
        )
        .await;
        Self {
            db,
            sqs,
            queue_url,
            dead_letter_url,
            endpoint,
            secret_arns,
        }
    }

    /// The functions' environment, as template.yaml gives it: the secrets as ARNs only.
    pub fn lambda_env(&self) -> Vec<(&str, String)> {
        let mut env = self.env();
        env.retain(|(name, _)| !["DATABASE_URL", "API_KEY"].contains(name));
        env.extend(
            self.secret_arns
                .iter()
                .map(|(name, arn)| (*name, arn.clone())),
        );
        env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.endpoint.clone()));
        env
    }

    /// The deployment's settings as plain variables, as a `ragbase worker` beside it gets them.
    pub fn env(&self) -> Vec<(&str, String)> {
        vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("REDIS_URL", shared().1.to_owned()),
            ("SQS_QUEUE_URL", self.queue_url.clone()),
            ("SQS_DEAD_LETTER_QUEUE_URL", self.dead_letter_url.clone()),
            ("SQS_ENDPOINT", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("API_KEY", KEY.into()),
            ("EMBEDDING_MODEL_DIR", model_dir().to_owned()),
            // As template.yaml sets it: REST API paths arrive without their stage prefix.
            ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".into()),
            ("RATE_LIMIT_MAX", "1000000".into()),
            ("LOG_FORMAT", "json".into()),
        ]
    }

    /// Starts the function binary `function` (see `binary`) with the template's environment.
    pub async fn start(&self, function: &str, extra: &[(&str, &str)]) -> Function {
        let mut env = self.lambda_env();
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Function::start(binary(function), &env).await
    }

    /// What the event source mapping would deliver next: up to 10 messages, as an SQS event.
    pub async fn receive(&self, wait: Duration) -> Vec<aws_sdk_sqs::types::Message> {
        let answer = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        answer.messages().to_vec()
    }

    pub async fn dead_letters(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let answer = self
            .sqs
            .receive_message()
            .queue_url(&self.dead_letter_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        answer.messages().to_vec()
    }
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> String {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key.clone(), value);
    }
    request
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

/// A secret holding `value`, named after the deployment; its ARN.
async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    deployment: &str,
    name: &str,
    value: &str,
) -> String {
    let answer = client
        .create_secret()
        .name(format!("ragbase-{deployment}-{name}"))
        .secret_string(value)
        .send()
        .await
        .unwrap();
    answer.arn().unwrap().to_owned()
}

/// A function binary: the one built beside `ragbase` (`cargo build --workspace`, as `local/test`
/// does), or with `LAMBDA_FUNCTIONS_DIR` set, cargo-lambda's package (`<dir>/<name>/bootstrap`).
pub fn binary(name: &str) -> PathBuf {
    let path = match std::env::var_os("LAMBDA_FUNCTIONS_DIR") {
        Some(dir) => PathBuf::from(dir).join(name).join("bootstrap"),
        None => std::path::Path::new(env!("CARGO_BIN_EXE_ragbase")).with_file_name(name),
    };
    assert!(
        path.is_file(),
        "{} is missing: build the functions first (cargo build --workspace)",
        path.display()
    );
    path
}

type Answer = oneshot::Sender<Result<Value, Value>>;

struct Runtime {
    /// Events waiting for the function's next poll.
    queued: tokio::sync::Mutex<mpsc::Receiver<(Value, Answer)>>,
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
            queued: tokio::sync::Mutex::new(queued),
            pending: Mutex::default(),
            first_poll: Mutex::default(),
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
    let Some((event, answer)) = queued.recv().await else {
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
