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
