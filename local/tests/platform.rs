//! The HTTP platform through the real binary, against real PostgreSQL and Redis:
//! readiness that follows the database, the alert webhook, a rate limit shared by two instances,
//! document listing over real rows, and the Redis queue's handling of entries it did not write.

mod support;

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use support::{
    PrivateService, Server, TestBackend, TestDb, eventually, on_each_backend, run_ragbase, shared,
};
use tokio::{io::AsyncReadExt, io::AsyncWriteExt, net::TcpListener, sync::Mutex};

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A local HTTP receiver for the alert webhook: answers 200 and keeps each request body.
async fn webhook_sink() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // Read until the whole body (by Content-Length) has arrived.
            loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        sink.lock()
                            .await
                            .push(serde_json::from_str(body).unwrap_or(Value::Null));
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (url, received)
}

#[tokio::test]
async fn ready_follows_postgres_down_and_up_and_errors_raise_one_alert() {
    // A private PostgreSQL, so stopping it disturbs no other test.
    let postgres = PrivateService::start("postgres");
    let (_, redis_url) = shared();
    let (hook, alerts) = webhook_sink().await;
    let env = [
        ("DATABASE_URL", postgres.url.as_str()),
        ("REDIS_URL", redis_url),
        ("ALERT_WEBHOOK_URL", hook.as_str()),
        ("ALERT_THRESHOLD", "2"),
        ("TRUST_PROXY", "true"),
    ];
    let server = Server::start(&["serve", "--migrate"], &env).await;
    let client = reqwest::Client::new();
    let ready = || async { json_of(client.get(server.url("/ready")).send().await.unwrap()).await };

    let (status, body) = ready().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["checks"],
        json!({"database": true, "redis": true, "queue": true})
    );

    postgres.stop();
    let (status, body) = ready().await;
    assert_eq!(
        (status, &body["status"]),
        (503, &json!("degraded")),
        "{body}"
    );
    assert_eq!(
        body["checks"],
        json!({"database": false, "redis": true, "queue": true})
    );
    // The same checks reach Prometheus, for the readiness alert.
    let scrape = server.scrape().await;
    for line in [
        r#"readiness_check{check="database"} 0"#,
        r#"readiness_check{check="redis"} 1"#,
    ] {
        assert!(scrape.contains(line), "{line} missing from {scrape}");
    }

    let list = || {
        client
            .get(server.url("/api/documents"))
            .header("x-forwarded-for", "198.51.100.7")
            .send()
    };
    let mut request_ids = Vec::new();
    for _ in 0..3 {
        let answer = list().await.unwrap();
        request_ids.push(
            answer.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let (status, body) = json_of(answer).await;
        assert_eq!(
            (status, &body["error"], &body["message"]),
            (
                503,
                &json!("SERVICE_UNAVAILABLE"),
                &json!("The database is unavailable, please retry later")
            ),
            "{body}"
        );
    }
    // What the client was not told is logged once per request, with its request id.
    let logged: Vec<Value> = server
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["msg"] == "request failed")
        .collect();
    assert_eq!(logged.len(), 3, "{logged:?}");
    for (line, id) in logged.iter().zip(&request_ids) {
        assert_eq!(
            (&line["code"], &line["request_id"]),
            (&json!("SERVICE_UNAVAILABLE"), &json!(id))
        );
        assert!(
            line["error"]
                .as_str()
                .unwrap()
                .starts_with("database unavailable: "),
            "{line}"
        );
    }
    assert!(
        eventually(Duration::from_secs(10), || async {
            !alerts.lock().await.is_empty()
        })
        .await,
        "no alert"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = alerts.lock().await.clone();
    assert_eq!(
        received.len(),
        1,
        "one alert, not one per error: {received:?}"
    );
    assert_eq!(received[0]["errorsInLastHour"], 3);
    assert!(
        received[0]["lastError"]
            .as_str()
            .unwrap()
            .contains("/api/documents"),
        "{received:?}"
    );

    postgres.start_again();
    let back = eventually(Duration::from_secs(15), || async { ready().await.0 == 200 }).await;
    assert!(back, "/ready did not recover without a restart");
    assert_eq!(json_of(list().await.unwrap()).await.0, 200);
}

#[tokio::test]
async fn two_instances_share_one_rate_limit_exactly() {
    let db = TestDb::create().await;
    let (_, redis_url) = shared();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", redis_url),
        ("TRUST_PROXY", "true"),
        ("RATE_LIMIT_MAX", "100"),
    ];
    assert!(run_ragbase(&["migrate"], &env).await.0);
    let servers = [
        Server::start(&["serve", "--no-worker"], &env).await,
        Server::start(&["serve", "--no-worker"], &env).await,
    ];
    let client = reqwest::Client::new();
    // Each test uses its own client address, so tests sharing the Redis do not share counters.
    let client_ip = format!("203.0.113.{}", rand_octet());
    let hit = |i: usize, ip: String| {
        client
            .get(servers[i % 2].url("/api/documents"))
            .header("x-forwarded-for", ip)
            .send()
    };

    for i in 0..100 {
        let response = hit(i, client_ip.clone()).await.unwrap();
        assert_eq!(response.status(), 200, "request {}", i + 1);
    }
    let response = hit(100, client_ip.clone()).await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "RATE_LIMITED", "message": "Too many requests, please try again later", "retryAfter": "60000"})
    );

    // 150 requests at once across both instances: exactly 100 pass.
    let burst_ip = format!("198.18.0.{}", rand_octet());
    let handles: Vec<_> = (0..150)
        .map(|i| tokio::spawn(hit(i, burst_ip.clone())))
        .collect();
    let mut passed = 0;
    for handle in handles {
        if handle.await.unwrap().unwrap().status() == 200 {
            passed += 1;
        }
    }
    assert_eq!(passed, 100);
}

fn rand_octet() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

on_each_backend!(documents_are_listed_filtered_sorted_and_paged);

async fn documents_are_listed_filtered_sorted_and_paged(backend: TestBackend) {
    let mut env = backend.env();
    env.push(("API_KEY", "platform-test-key-0123456789"));
    assert!(run_ragbase(&["migrate"], &env).await.0);
    let rows = [
        ("a-report.pdf", "pdf", 300, "COMPLETED", true, "2026-01-01"),
        ("b_notes.md", "markdown", 100, "FAILED", true, "2026-01-02"),
        (
            "c-report-draft.docx",
            "docx",
            200,
            "COMPLETED",
            false,
            "2026-01-03",
        ),
        ("d%odd.txt", "text", 50, "PENDING", true, "2026-01-04"),
    ];
    let mut ids = Vec::new();
    for (filename, format, size, status, active, day) in rows {
        let id = uuid::Uuid::new_v4();
        backend
            .insert_document(id, (filename, format, size), (status, active), day)
            .await;
        ids.push(id);
    }
    let server = Server::start(&["serve", "--no-worker"], &env).await;
    let client = reqwest::Client::new();
    let list = |query: &str| {
        let request = client
            .get(server.url(&format!("/api/documents{query}")))
            .header("x-api-key", "platform-test-key-0123456789");
        async move { json_of(request.send().await.unwrap()).await }
    };
    let names = |body: &Value| -> Vec<String> {
        body["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["filename"].as_str().unwrap().to_owned())
            .collect()
    };

    let (status, all) = list("").await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&all),
        [
            "d%odd.txt",
            "c-report-draft.docx",
            "b_notes.md",
            "a-report.pdf"
        ]
    );
    assert_eq!(all["total"], 4);
    assert_eq!(
        all["counts"],
        json!({"total": 4, "active": 3, "inactive": 1, "pending": 1, "processing": 0, "completed": 2, "failed": 1})
    );
    // Stored under the names earlier versions used, answered under the original's.
    let formats: Vec<&Value> = all["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["format"])
        .collect();
    assert_eq!(
        formats,
        [&json!("txt"), &json!("docx"), &json!("md"), &json!("pdf")]
    );
    // Nothing here is synced from elsewhere; uploaded documents are all there is.
    assert_eq!(list("?sourceType=DRIVE").await.1["total"], 0);
    assert_eq!(list("?connectionState=STANDALONE").await.1["total"], 4);

    assert_eq!(
        names(
            &list("?status=COMPLETED&sortBy=fileSize&sortOrder=asc")
                .await
                .1
        ),
        ["c-report-draft.docx", "a-report.pdf"]
    );
    assert_eq!(
        names(&list("?search=REPORT&isActive=true").await.1),
        ["a-report.pdf"]
    );
    assert_eq!(
        names(&list("?search=%25").await.1),
        ["d%odd.txt"],
        "% is a literal, not a wildcard"
    );
    assert_eq!(
        names(&list("?search=_").await.1),
        ["b_notes.md"],
        "_ is a literal, not a wildcard"
    );
    let (_, page) = list("?sortBy=filename&sortOrder=asc&limit=2&offset=2").await;
    assert_eq!(
        (names(&page), &page["total"]),
        (
            vec!["c-report-draft.docx".to_owned(), "d%odd.txt".to_owned()],
            &json!(4)
        )
    );

    let (status, one) = json_of(
        client
            .get(server.url(&format!("/api/documents/{}", ids[1])))
            .header("x-api-key", "platform-test-key-0123456789")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["filename"], "b_notes.md");
    assert_eq!(one["status"], "FAILED");
    assert_eq!(one["fileSize"], 100);
    assert_eq!(one["isActive"], true);
    assert!(
        one["createdAt"].as_str().unwrap().starts_with("2026-01-02"),
        "{one}"
    );
}

/// An entry on the job stream that this code did not write is dropped: not delivered, not
/// counted as waiting for ever.
#[tokio::test]
async fn a_malformed_stream_entry_is_discarded_not_counted_as_waiting() {
    use ragbase::{adapters::redis_queue::RedisQueue, ports::Queue};
    let (_, redis_url) = shared();
    let stream = format!("test:{}", uuid::Uuid::new_v4().simple());
    let queue = RedisQueue::connect(redis_url, &stream, Duration::from_secs(30))
        .await
        .unwrap();
    let client = redis::Client::open(redis_url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("not-a-document")
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(queue.sizes().await.unwrap().waiting, 1);
    assert!(
        queue
            .next(Duration::from_millis(200))
            .await
            .unwrap()
            .is_none()
    );
    let sizes = queue.sizes().await.unwrap();
    assert_eq!((sizes.waiting, sizes.active), (0, 0));
    let id = uuid::Uuid::new_v4();
    queue.enqueue(id).await.unwrap();
    let job = queue.next(Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(job.document_id, id);
    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
}
