//! The Lambda functions (`functions/`), run as Lambda runs them: each real binary polls a Runtime
//! API (test support) for real API Gateway REST (v1) and HTTP API (v2) events, or SQS batches,
//! against a real PostgreSQL with pgvector, Redis, an SQS-compatible server (moto, from
//! `local/services`) and the real model. As the template deploys them, the functions get the
//! database URL and the API keys as Secrets Manager ARNs (moto's Secrets Manager), never as values.

mod support;

use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use support::{
    Server, TestDb, checkout, eventually,
    lambda::{Deployment, Function, KEY, binary, http_api_event, response_body, rest_api_event},
};

/// The SQS event Lambda's event source mapping makes of received messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                .collect();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

fn failed_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn json_body(response: &Value) -> Value {
    serde_json::from_slice(&response_body(response)).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// A multipart body with one file part, and its content type.
fn multipart(filename: &str, bytes: &[u8]) -> (Vec<u8>, String) {
    let boundary = uuid::Uuid::new_v4().simple().to_string();
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

async fn upload_v2(upload: &Function, path: &str) -> String {
    let bytes = std::fs::read(checkout().join("../shared/data/documents").join(path)).unwrap();
    let name = path.rsplit('/').next().unwrap();
    let (body, content_type) = multipart(name, &bytes);
    let event = http_api_event(
        "POST",
        "/api/documents",
        "",
        &[("x-api-key", KEY), ("content-type", &content_type)],
        Some(&body),
    );
    let response = upload.invoke(event).await.unwrap();
    assert_eq!(response["statusCode"], 201, "{response}");
    json_body(&response)["id"].as_str().unwrap().to_owned()
}

async fn status_of(db: &TestDb, id: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT status::text, fail_reason FROM documents WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn http_functions_answer_api_gateway_rest_and_http_api_events() {
    let deployment = Deployment::new().await;
    let health = deployment.start("health", &[]).await;
    let upload = deployment.start("upload", &[]).await;
    let documents = deployment.start("documents", &[]).await;
    let metrics = deployment.start("metrics", &[]).await;

    // Probes: HTTP API (v2) and REST (v1), with the platform's headers.
    let response = health
        .invoke(http_api_event("GET", "/health", "", &[], None))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(json_body(&response), json!({"status": "ok"}));
    assert!(
        response["headers"]["x-request-id"].is_string(),
        "{response}"
    );
    assert_eq!(response["headers"]["content-type"], "application/json");
    let response = health
        .invoke(rest_api_event("GET", "/ready", "/ready", &[], &[], None))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        json_body(&response)["checks"],
        json!({"database": true, "redis": true, "queue": true})
    );
    // A REST API answer carries multi-value headers too.
    assert!(
        response["multiValueHeaders"]["x-request-id"].is_array(),
        "{response}"
    );

    // Upload (v2, base64 multipart): 201, and the job is on the SQS queue.
    let id = upload_v2(&upload, "txt/normal.txt").await;
    let queued = deployment.receive(Duration::from_secs(2)).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(queued[0].body().unwrap()).unwrap(),
        json!({ "documentId": id })
    );
    let emf = upload.stdout.lock().unwrap().iter().find_map(|line| {
        let line: Value = serde_json::from_str(line).ok()?;
        (line["_aws"]["CloudWatchMetrics"].is_array() && line["path"] == "/api/documents")
            .then_some(line)
    });
    let emf = emf.expect("an EMF line for the upload");
    assert_eq!(
        (&emf["status"], &emf["http_requests_total"]),
        (&json!("201"), &json!(1))
    );
    assert!(emf["http_request_duration_seconds"].as_f64().unwrap() > 0.0);

    // Without the key (v1): the contract's 401 body.
    let response = upload
        .invoke(rest_api_event(
            "POST",
            "/api/documents",
            "/api/documents",
            &[],
            &[],
            None,
        ))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 401, "{response}");
    assert_eq!(json_body(&response)["error"], "UNAUTHORIZED");

    // Documents: v1 with a path parameter, v2 with a query string.
    let response = documents
        .invoke(rest_api_event(
            "GET",
            "/api/documents/{id}",
            &format!("/api/documents/{id}"),
            &[],
            &[("x-api-key", KEY)],
            None,
        ))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(json_body(&response)["status"], "PENDING");
    let response = documents
        .invoke(http_api_event(
            "GET",
            "/api/documents",
            "status=PENDING&limit=5",
            &[("x-api-key", KEY)],
            None,
        ))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let page = json_body(&response);
    assert_eq!(
        (&page["total"], &page["documents"][0]["id"]),
        (&json!(1), &json!(id))
    );
    // A route this function does not serve is the contract's 404, not a crash.
    let response = documents
        .invoke(http_api_event(
            "POST",
            "/api/query",
            "",
            &[("x-api-key", KEY)],
            Some(b"{}"),
        ))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 404, "{response}");

    // Metrics: the queue as SQS counts it (one message in flight after the receive above).
    for event in [
        http_api_event("GET", "/metrics", "", &[], None),
        rest_api_event("GET", "/metrics", "/metrics", &[], &[], None),
    ] {
        let response = metrics.invoke(event).await.unwrap();
        assert_eq!(response["statusCode"], 200);
        let text = String::from_utf8(response_body(&response)).unwrap();
        for line in [
            r#"processing_queue_size{status="active"} 1"#,
            r#"processing_queue_size{status="failed"} 0"#,
            r#"readiness_check{check="queue"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
    }
}

#[tokio::test]
async fn rate_limits_follow_the_client_address_api_gateway_saw() {
    let deployment = Deployment::new().await;
    let documents = deployment
        .start("documents", &[("RATE_LIMIT_MAX", "2")])
        .await;
    let from = |ip: &str| {
        let mut event = http_api_event("GET", "/api/documents", "", &[("x-api-key", KEY)], None);
        event["requestContext"]["http"]["sourceIp"] = json!(ip);
        event
    };
    // Addresses of this test's own, so that no other test's requests count against them.
    let (first, second) = (
        format!("192.0.2.{}", 1 + rand_byte()),
        format!("198.18.0.{}", 1 + rand_byte()),
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(documents.invoke(from(&first)).await.unwrap()["statusCode"].clone());
    }
    assert_eq!(statuses, [json!(200), json!(200), json!(429)]);
    let other = documents.invoke(from(&second)).await.unwrap();
    assert_eq!(other["statusCode"], 200, "another client has its own limit");
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0] % 250
}

#[tokio::test]
async fn the_worker_processes_sqs_batches_and_reports_only_the_poisoned_message() {
    let deployment = Deployment::new().await;
    let upload = deployment.start("upload", &[]).await;
    let documents = deployment.start("documents", &[]).await;
    let worker = deployment.start("worker", &[]).await;
    let search = deployment.start("search", &[]).await;

    let text = upload_v2(&upload, "txt/normal.txt").await;
    let markdown = upload_v2(&upload, "md/with-headers.md").await;
    let deleted = upload_v2(&upload, "md/code-blocks.md").await;
    // Deleted before its job runs: acknowledged, not retried.
    let response = documents
        .invoke(http_api_event(
            "DELETE",
            &format!("/api/documents/{deleted}"),
            "",
            &[("x-api-key", KEY)],
            None,
        ))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    // A message that is not a job, sent by someone else to the same queue.
    deployment
        .sqs
        .send_message()
        .queue_url(&deployment.queue_url)
        .message_body("not a job")
        .send()
        .await
        .unwrap();

    let mut messages = Vec::new();
    while messages.len() < 4 {
        let received = deployment.receive(Duration::from_secs(2)).await;
        assert!(
            !received.is_empty(),
            "only {} of 4 messages arrived",
            messages.len()
        );
        messages.extend(received);
    }
    let poisoned = messages
        .iter()
        .find(|m| m.body() == Some("not a job"))
        .unwrap()
        .message_id()
        .unwrap()
        .to_owned();
    let response = worker.invoke(sqs_event(&messages)).await.unwrap();
    assert_eq!(failed_ids(&response), [poisoned]);
    for id in [&text, &markdown] {
        assert_eq!(status_of(&deployment.db, id).await.0, "COMPLETED");
    }
    assert_document_metrics(&worker, 2).await;

    // The search function finds what the worker stored, through either API.
    let query = json!({"query": "document headings and sections", "topK": 3, "mode": "hybrid"});
    let query = query.to_string();
    let headers = [("x-api-key", KEY), ("content-type", "application/json")];
    for event in [
        http_api_event("POST", "/api/query", "", &headers, Some(query.as_bytes())),
        rest_api_event(
            "POST",
            "/api/query",
            "/api/query",
            &[],
            &headers,
            Some(query.as_bytes()),
        ),
    ] {
        let response = search.invoke(event).await.unwrap();
        assert_eq!(response["statusCode"], 200, "{response}");
        let results = json_body(&response)["results"].as_array().unwrap().clone();
        assert!(!results.is_empty());
        let found: Vec<String> = results
            .iter()
            .map(|r| r["documentId"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            found.iter().all(|d| [&text, &markdown].contains(&d)),
            "{found:?}"
        );
    }
}

/// The worker's EMF lines (namespace RAGBase, dimensioned by function, status and format) count
/// `completed` documents, and carry the embedding time of each batch, in seconds.
async fn assert_document_metrics(worker: &Function, completed: u64) {
    let lines = || -> Vec<Value> {
        let stdout = worker.stdout.lock().unwrap();
        let lines = stdout
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok());
        lines
            .filter(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "RAGBase")
            .collect()
    };
    let counted = |lines: &[Value]| -> u64 {
        let completed = lines.iter().filter(|l| l["status"] == "COMPLETED");
        completed
            .filter_map(|l| l["documents_processed_total"].as_u64())
            .sum()
    };
    let flushed = eventually(Duration::from_secs(5), || async {
        counted(&lines()) == completed
    });
    assert!(flushed.await, "{:#?}", lines());
    let lines = lines();
    for line in lines
        .iter()
        .filter(|l| l["documents_processed_total"].is_u64())
    {
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            declared["Dimensions"][0],
            json!(["function", "status", "format"])
        );
        assert_eq!(line["function"], "ragbase-worker");
        assert!(line["format"].is_string(), "{line}");
    }
    let seconds: Vec<f64> = lines
        .iter()
        .filter_map(|l| l["embedding_generation_duration_seconds"].as_array())
        .flatten()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        !seconds.is_empty() && seconds.iter().all(|s| *s > 0.0),
        "{lines:#?}"
    );
    let unit = lines.iter().find_map(|l| {
        let metrics = l["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array()?;
        let embedding = metrics
            .iter()
            .find(|m| m["Name"] == "embedding_generation_duration_seconds");
        embedding.map(|m| m["Unit"].clone())
    });
    assert_eq!(unit, Some(json!("Seconds")));
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_init_naming_it() {
    let deployment = Deployment::new().await;
    let mut env = deployment.lambda_env();
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ragbase-missing";
    env.retain(|(name, _)| *name != "DATABASE_URL_SECRET_ARN");
    env.push(("DATABASE_URL_SECRET_ARN", missing.into()));
    let run = tokio::process::Command::new(binary("health"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("init ended within 30 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("DATABASE_URL_SECRET_ARN: cannot read {missing}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_job_failing_three_times_lands_in_the_dead_letter_queue_and_its_document_fails() {
    let deployment = Deployment::new().await;
    let upload = deployment.start("upload", &[]).await;
    let worker = deployment.start("worker", &[]).await;
    let id = upload_v2(&upload, "txt/unicode.txt").await;
    // Losing the stored bytes is a fault no retry mends: every attempt fails.
    sqlx::query("DELETE FROM document_files WHERE document_id = $1::uuid")
        .bind(&id)
        .execute(&mut deployment.db.connect().await)
        .await
        .unwrap();

    for attempt in 1..=3 {
        // The worker hid the message for its backoff (2 s, then 4 s): wait for it to return.
        let mut messages = Vec::new();
        for _ in 0..10 {
            messages = deployment.receive(Duration::from_secs(2)).await;
            if !messages.is_empty() {
                break;
            }
        }
        assert_eq!(messages.len(), 1, "attempt {attempt} was delivered");
        let receive_count = &messages[0].attributes().unwrap()
            [&MessageSystemAttributeName::ApproximateReceiveCount];
        assert_eq!(receive_count, &attempt.to_string());
        let response = worker.invoke(sqs_event(&messages)).await.unwrap();
        let expected: Vec<String> = if attempt < 3 {
            vec![messages[0].message_id().unwrap().to_owned()]
        } else {
            vec![]
        };
        assert_eq!(failed_ids(&response), expected, "attempt {attempt}");
    }
    assert_eq!(
        status_of(&deployment.db, &id).await,
        ("FAILED".into(), Some("INTERNAL_ERROR".into()))
    );
    let dead = deployment.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(dead[0].body().unwrap()).unwrap(),
        json!({ "documentId": id })
    );
    let attributes = dead[0].message_attributes().unwrap();
    assert_eq!(attributes["attempts"].string_value(), Some("3"));
    assert!(
        attributes["reason"]
            .string_value()
            .unwrap()
            .contains("missing"),
        "{attributes:?}"
    );
    assert!(deployment.receive(Duration::from_secs(1)).await.is_empty());
}

#[tokio::test]
async fn a_long_running_ragbase_worker_consumes_the_same_sqs_queue() {
    let deployment = Deployment::new().await;
    let upload = deployment.start("upload", &[]).await;
    let env = deployment.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _worker = Server::start_worker(&env).await;
    let id = upload_v2(&upload, "md/with-headers.md").await;
    let completed = eventually(Duration::from_secs(60), || async {
        status_of(&deployment.db, &id).await.0 == "COMPLETED"
    })
    .await;
    assert!(completed, "{:?}", status_of(&deployment.db, &id).await);
    assert!(
        deployment.receive(Duration::from_secs(1)).await.is_empty(),
        "the message was deleted"
    );
}

#[tokio::test]
async fn the_scheduled_reconciler_queues_a_document_whose_message_was_lost() {
    let deployment = Deployment::new().await;
    let upload = deployment.start("upload", &[]).await;
    let reconciler = deployment.start("reconciler", &[]).await;
    let worker = deployment.start("worker", &[]).await;
    let id = upload_v2(&upload, "md/with-headers.md").await;
    // The message is lost (deleted unprocessed), and the document has waited for an hour.
    let lost = deployment.receive(Duration::from_secs(2)).await;
    assert_eq!(lost.len(), 1);
    deployment
        .sqs
        .delete_message()
        .queue_url(&deployment.queue_url)
        .receipt_handle(lost[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    sqlx::query("UPDATE documents SET updated_at = now() - interval '1 hour' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&mut deployment.db.connect().await)
        .await
        .unwrap();

    // What EventBridge Scheduler sends by default.
    let response = reconciler.invoke(json!({})).await.unwrap();
    assert_eq!(response, json!({"requeued": 1, "crashed": 0}));
    let requeued = deployment.receive(Duration::from_secs(2)).await;
    assert_eq!(requeued.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(requeued[0].body().unwrap()).unwrap(),
        json!({ "documentId": id })
    );
    let response = worker.invoke(sqs_event(&requeued)).await.unwrap();
    assert!(failed_ids(&response).is_empty(), "{response}");
    assert_eq!(status_of(&deployment.db, &id).await.0, "COMPLETED");
    // Nothing is left to do: the next pass finds nothing.
    let response = reconciler.invoke(json!({})).await.unwrap();
    assert_eq!(response, json!({"requeued": 0, "crashed": 0}));
}
