//! No job is lost: a worker killed mid-job has its job redelivered, and a job that keeps failing
//! ends in the dead-letter queue with its document FAILED. Real PostgreSQL, Redis and model.

mod support;

use std::{process::Command, time::Duration};

use reqwest::{Client, multipart};
use serde_json::{Value, json};
use support::{Server, TestDb, checkout, eventually};

async fn upload(client: &Client, server: &Server, path: &std::path::Path) -> String {
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(std::fs::read(path).unwrap()).file_name(name),
    );
    let body: Value = client
        .post(server.url("/api/documents"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn document(client: &Client, server: &Server, id: &str) -> Value {
    client
        .get(server.url(&format!("/api/documents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_job_has_its_job_redelivered_without_duplicates() {
    let db = TestDb::create().await;
    let queue = format!("test:{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("QUEUE_NAME", queue.as_str()),
        ("QUEUE_LEASE_MS", "2000"),
    ];
    let server = Server::start(&["serve", "--migrate", "--no-worker"], &env).await;
    let mut first = Server::start_worker(&env).await;
    let client = Client::new();
    let id = upload(
        &client,
        &server,
        // About 100 chunks: still embedding when the worker is killed 2 s in.
        &checkout().join("../shared/data/documents/html/ch01.en.html"),
    )
    .await;

    let processing = eventually(Duration::from_secs(30), || async {
        document(&client, &server, &id).await["status"] == "PROCESSING"
    })
    .await;
    assert!(processing, "the first worker took the job");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        Command::new("kill")
            .args(["-KILL", &first.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    first.child.wait().await.unwrap();
    assert_eq!(
        document(&client, &server, &id).await["status"],
        "PROCESSING",
        "killed mid-job"
    );

    let second = Server::start_worker(&env).await;
    let completed = eventually(Duration::from_secs(600), || async {
        document(&client, &server, &id).await["status"] == "COMPLETED"
    })
    .await;
    let doc = document(&client, &server, &id).await;
    assert!(completed, "{doc}");
    // The worker counts what it processed on its own /metrics, for Prometheus to scrape.
    let scrape = second.scrape().await;
    assert!(
        scrape.contains(r#"documents_processed_total{status="COMPLETED",format="html"} 1"#),
        "{scrape}"
    );
    let logs = second.logs.lock().unwrap().join("\n");
    assert!(
        logs.contains("job abandoned by its worker"),
        "the second worker reclaimed it"
    );

    let mut conn = db.connect().await;
    let (rows, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT chunk_index) FROM chunks WHERE document_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (rows, distinct),
        (doc["chunkCount"].as_i64().unwrap(), rows),
        "no chunk stored twice"
    );
}

#[tokio::test]
async fn a_job_failing_three_times_is_dead_lettered_and_its_document_failed() {
    let db = TestDb::create().await;
    let queue = format!("test:{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("QUEUE_NAME", queue.as_str()),
    ];
    let server = Server::start(&["serve", "--migrate", "--no-worker"], &env).await;
    let client = Client::new();
    let id = upload(
        &client,
        &server,
        &checkout().join("../shared/data/documents/txt/normal.txt"),
    )
    .await;
    // Losing the stored bytes is a fault that no retry can mend: every attempt fails.
    let mut conn = db.connect().await;
    sqlx::query("DELETE FROM document_files WHERE document_id = $1::uuid")
        .bind(&id)
        .execute(&mut conn)
        .await
        .unwrap();

    let _worker = Server::start_worker(&env).await;
    let failed = eventually(Duration::from_secs(60), || async {
        document(&client, &server, &id).await["status"] == "FAILED"
    })
    .await;
    let doc = document(&client, &server, &id).await;
    assert!(failed, "{doc}");
    assert_eq!(
        (&doc["failReason"], &doc["retryCount"]),
        (&json!("INTERNAL_ERROR"), &json!(2)),
        "{doc}"
    );
    let metrics = server.scrape().await;
    assert!(
        metrics.contains(r#"processing_queue_size{status="failed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"processing_queue_size{status="waiting"} 0"#),
        "{metrics}"
    );
}
