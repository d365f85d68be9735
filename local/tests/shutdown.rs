//! Graceful shutdown of the real binary: a SIGTERM during a slow request lets it finish.

mod support;

use std::{process::Command, time::Duration};

use support::{PrivateService, Server, TestDb, run_ragbase};

fn signal(signal: &str, pid: u32) {
    assert!(
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn sigterm_during_a_slow_request_lets_it_finish() {
    // A private Redis that the test freezes (SIGSTOP): requests wait on it, as they would on a
    // stalled backend in production, so one is slow and in flight when SIGTERM arrives.
    let redis = PrivateService::start("redis");
    let redis_pid: u32 = std::fs::read_to_string(redis.dir.join("redis/redis.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let db = TestDb::create().await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", redis.url.as_str()),
    ];
    assert!(run_ragbase(&["migrate"], &env).await.0);
    let mut server = Server::start(&["serve", "--no-worker"], &env).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(server.url("/api/documents"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    signal("-STOP", redis_pid);
    let slow = tokio::spawn(client.get(server.url("/api/documents")).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !slow.is_finished(),
        "the request should be waiting on the frozen Redis"
    );
    signal("-TERM", server.pid());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = client
        .get(server.url("/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "no new connections after SIGTERM");

    let response = slow
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(
        response.status(),
        200,
        "the rate limiter lets requests through while Redis is unreachable"
    );
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(logs.contains("shutdown signal received"), "{logs}");

    signal("-CONT", redis_pid);
}

async fn status_of(api: &support::api::Api, id: &str) -> serde_json::Value {
    api.get(&format!("/api/documents/{id}")).await.1["status"].clone()
}

/// A SIGTERM while the worker is deep in a long document: the process exits within the grace
/// period (plus a margin), abandoning the job, and the next process takes the document up again.
#[tokio::test]
async fn sigterm_during_a_long_job_exits_within_the_grace_and_the_job_comes_back() {
    let backend = support::TestBackend::embedded();
    let mut env = backend.env();
    // A grace far shorter than R-intro's embedding.
    env.push(("SHUTDOWN_GRACE_SECS", "2"));
    let mut server = Server::start(&["serve"], &env).await;
    let pdf = support::checkout().join("../shared/data/documents/pdf/R-intro.pdf");
    let api = support::api::Api {
        server,
        client: reqwest::Client::new(),
    };
    let (code, body) = api.upload("R-intro.pdf", std::fs::read(pdf).unwrap()).await;
    assert_eq!(code, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let processing = support::eventually(Duration::from_secs(30), || async {
        status_of(&api, &id).await == "PROCESSING"
    });
    assert!(processing.await, "the worker took the PDF");
    // Into the embedding, which takes minutes on two cores.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server = api.server;
    signal("-TERM", server.pid());
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;
    assert!(
        exit.is_ok(),
        "still running 10 s after SIGTERM, with a grace of 2 s"
    );
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(logs.contains("abandoned"), "{logs}");

    let api = support::api::Api {
        server: Server::start(&["serve"], &env).await,
        client: reqwest::Client::new(),
    };
    let resumed = support::eventually(Duration::from_secs(30), || async {
        status_of(&api, &id).await == "PROCESSING"
    });
    assert!(resumed.await, "the next process took the PDF up again");
}

/// A client watching `/api/events` does not hold the shutdown up: its stream ends at SIGTERM and
/// the process exits at once, not at the end of the grace period.
#[tokio::test]
async fn sigterm_ends_the_event_streams_so_the_process_exits_at_once() {
    let backend = support::TestBackend::embedded();
    let mut env = backend.env();
    env.push(("SHUTDOWN_GRACE_SECS", "30"));
    let mut server = Server::start(&["serve", "--no-worker"], &env).await;
    let mut stream = reqwest::get(server.url("/api/events")).await.unwrap();
    assert_eq!(stream.status(), 200);
    let connected = stream.chunk().await.unwrap().unwrap();
    assert!(connected.starts_with(b": connected"));
    let signalled = std::time::Instant::now();
    signal("-TERM", server.pid());
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.chunk().await.unwrap().is_some() {}
    });
    assert!(ended.await.is_ok(), "the stream ended after SIGTERM");
    let exit = tokio::time::timeout(Duration::from_secs(5), server.child.wait()).await;
    assert!(exit.unwrap().unwrap().success());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
}
