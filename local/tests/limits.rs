//! Bounds that keep one slow or hostile caller from holding the server's resources for good,
//! against the real services: statement timeouts, upload memory, the rate limiter's memory,
//! slow clients and the connection cap.

mod support;

use std::time::Duration;

use ragbase::{adapters::postgres::PgStore, ports::DocumentStore};
use support::TestDb;

/// A statement stuck behind a lock (or just slow) is cancelled at `DATABASE_STATEMENT_TIMEOUT_MS`
/// and answers an error, instead of holding one of the pool's connections until it ends.
#[tokio::test]
async fn a_statement_stuck_on_a_lock_is_cancelled_at_the_statement_timeout() {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url, 40, Duration::from_millis(500)).unwrap();
    store.migrate().await.unwrap();
    let id = uuid::Uuid::new_v4();
    let mut holder = db.connect().await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query(
        "INSERT INTO documents (id, filename, format, file_size, content_hash, status) \
         VALUES ($1, 'held.txt', 'txt', 1, sha256('held'::bytea), 'COMPLETED')",
    )
    .bind(id)
    .execute(&mut holder)
    .await
    .unwrap();
    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM documents WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut holder)
        .await
        .unwrap();

    let waited = tokio::time::timeout(Duration::from_secs(10), store.set_availability(id, false));
    let answer = waited
        .await
        .expect("the statement was cancelled, not left waiting");
    let error = answer.unwrap_err().to_string();
    assert!(error.contains("statement timeout"), "{error}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert!(!store.set_availability(id, false).await.unwrap().is_active);
}

const MIB: u64 = 1024 * 1024;

support::on_each_backend!(concurrent_large_uploads_stay_within_the_upload_memory);

/// A dozen 40 MB uploads at once: they take turns within `UPLOAD_MEMORY_MB` (256 by default),
/// so the server's memory grows by at most that much, and every one is stored or told to retry.
async fn concurrent_large_uploads_stay_within_the_upload_memory(backend: support::TestBackend) {
    let api = support::api::Api {
        server: support::Server::start(&["serve", "--migrate", "--no-worker"], &backend.env())
            .await,
        client: reqwest::Client::new(),
    };
    let before = api.server.memory("VmRSS") / MIB;
    let mut uploads = tokio::task::JoinSet::new();
    for n in 0..12 {
        let mut bytes = format!("upload {n} {}\n", uuid::Uuid::new_v4()).into_bytes();
        bytes.resize(40 * 1024 * 1024, b'a');
        let (client, url) = (api.client.clone(), api.server.url("/api/documents"));
        uploads.spawn(async move {
            let part = reqwest::multipart::Part::bytes(bytes).file_name(format!("big-{n}.txt"));
            let form = reqwest::multipart::Form::new().part("file", part);
            client
                .post(url)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let answers = uploads.join_all().await;
    let peak = api.server.memory("VmHWM") / MIB;
    eprintln!(
        "{}: 12 uploads of 40 MB: RSS {before} MiB before, peak {peak} MiB; answers {answers:?}",
        backend.name()
    );
    assert!(
        answers.iter().all(|a| *a == 201 || *a == 503),
        "{answers:?}"
    );
    assert!(answers.contains(&201), "{answers:?}");
    assert!(
        peak - before <= 256,
        "grew from {before} MiB to a peak of {peak} MiB"
    );
    assert_eq!(api.get("/health").await.0, 200);
}

/// 100,000 client addresses (behind a trusted proxy), each counted by the rate limiter, and
/// 10,000 invented methods: the server's memory grows by at most 256 MiB, and it still serves.
/// On the embedded backend, whose limiter keeps its counters in the server's memory (as Lambda
/// without Redis does); with Redis they live in Redis.
#[tokio::test]
async fn a_hundred_thousand_clients_and_invented_methods_leave_memory_bounded() {
    let backend = support::TestBackend::embedded();
    let mut env = backend.env();
    env.extend([("TRUST_PROXY", "1"), ("RATE_LIMIT_MAX", "1000000")]);
    let server = support::Server::start(&["serve", "--migrate", "--no-worker"], &env).await;
    server.forget_peak();
    let before = server.memory("VmRSS") / MIB;
    let client = reqwest::Client::new();
    // Past the rate limit, an unknown /api path costs nothing more: it is the limiter's memory
    // that 100,000 clients try.
    let url = server.url("/api/no-such-route");
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..110_000u32 {
        let slot = in_flight.clone().acquire_owned().await.unwrap();
        let request = if n < 100_000 {
            let client_address = std::net::Ipv4Addr::from(0x0a00_0000 + n);
            client
                .get(&url)
                .header("x-forwarded-for", client_address.to_string())
        } else {
            let method = reqwest::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
            client.request(method, server.url("/health"))
        };
        requests.spawn(async move {
            let status = request.send().await.unwrap().status().as_u16();
            drop(slot);
            (n < 100_000, status)
        });
    }
    // In the order they finished: each says which kind it was.
    let statuses = requests.join_all().await;
    let peak = server.memory("VmHWM") / MIB;
    eprintln!(
        "{}: 110,000 requests: RSS {before} MiB before, peak {peak} MiB",
        backend.name()
    );
    let distinct = |clients: bool| {
        let of_kind = statuses.iter().filter(|(kind, _)| *kind == clients);
        of_kind
            .map(|(_, status)| *status)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (clients, methods) = (distinct(true), distinct(false));
    assert_eq!(
        clients,
        [404].into(),
        "each client's one request passed the limiter"
    );
    assert!(
        methods.iter().all(|s| (400..500).contains(s)),
        "{methods:?}"
    );
    assert!(
        peak - before <= 256,
        "grew from {before} MiB to a peak of {peak} MiB"
    );
    assert_eq!(
        client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Slow clients: a head sent a byte at a time is cut off at `HEADER_READ_TIMEOUT_SECS`;
/// connections beyond `MAX_CONNECTIONS` wait until the idle ones time out; a body trickled past
/// `REQUEST_TIMEOUT_SECS` is answered 408.
#[tokio::test]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::{net::TcpStream, time::Instant};

    let backend = support::TestBackend::embedded();
    let mut env = backend.env();
    env.extend([
        ("HEADER_READ_TIMEOUT_SECS", "2"),
        ("REQUEST_TIMEOUT_SECS", "3"),
        ("MAX_CONNECTIONS", "4"),
    ]);
    let server = support::Server::start(&["serve", "--no-worker"], &env).await;
    server.forget_peak();
    let before = server.memory("VmRSS") / MIB;
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Sends `at_once`, then `slowly` a byte at a time, `pause` apart, until the server hangs
    // up; returns what it answered, and when it began to answer or hung up.
    let trickle = |at_once: String, slowly: String, pause: Duration| {
        let addr = addr.clone();
        async move {
            let started = Instant::now();
            let (mut read, mut write) = TcpStream::connect(&addr).await.unwrap().into_split();
            let feed = tokio::spawn(async move {
                write.write_all(at_once.as_bytes()).await.unwrap();
                for byte in slowly.into_bytes() {
                    if write.write_all(&[byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                }
            });
            let (mut answer, mut answered, mut buffer) = (Vec::new(), None, [0; 4096]);
            let deadline = started + Duration::from_secs(20);
            while let Ok(Ok(n @ 1..)) =
                tokio::time::timeout_at(deadline, read.read(&mut buffer)).await
            {
                answered.get_or_insert(started.elapsed());
                answer.extend_from_slice(&buffer[..n]);
            }
            feed.abort();
            let when = answered.unwrap_or(started.elapsed());
            (String::from_utf8_lossy(&answer).into_owned(), when)
        }
    };

    let slow_head = format!(
        "GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(100)
    );
    let (answer, after) = trickle(String::new(), slow_head, Duration::from_millis(200)).await;
    assert!(
        after < Duration::from_secs(5),
        "the slow head was read for {after:?}: {answer}"
    );
    assert!(!answer.contains("200 OK"), "{answer}");

    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let client = reqwest::Client::new();
    let health = || {
        client
            .get(server.url("/health"))
            .timeout(Duration::from_millis(800))
            .send()
    };
    assert!(
        health().await.is_err(),
        "a fifth connection was served beside four"
    );
    let started = Instant::now();
    let served = support::eventually(Duration::from_secs(6), || async { health().await.is_ok() });
    assert!(
        served.await,
        "not served after the idle connections' header timeout"
    );
    eprintln!(
        "served once the idle connections timed out, after {:?}",
        started.elapsed()
    );
    drop(idle);

    let head = format!(
        "POST /api/documents HTTP/1.1\r\nHost: test\r\nx-api-key: {}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 100000\r\n\r\n",
        support::api::KEY,
    );
    let body = "--XYZ\r\n".repeat(1000);
    let (answer, after) = trickle(head, body, Duration::from_millis(20)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(after < Duration::from_secs(8), "{after:?}");
    let peak = server.memory("VmHWM") / MIB;
    assert!(
        peak - before <= 256,
        "grew from {before} MiB to a peak of {peak} MiB"
    );
}
