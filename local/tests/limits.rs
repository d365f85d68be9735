//! Bounds that keep one slow or hostile caller from holding the server's resources for good,
//! against the real PostgreSQL.

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
        "INSERT INTO documents (id, filename, format, file_size, content_hash) \
         VALUES ($1, 'held.txt', 'text', 1, sha256('held'::bytea))",
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

/// A dozen 40 MB uploads at once: they take turns within `UPLOAD_MEMORY_MB` (256 by default),
/// so the server's memory grows by at most that much, and every one is stored or told to retry.
#[tokio::test]
async fn concurrent_large_uploads_stay_within_the_upload_memory() {
    let backend = support::TestBackend::embedded();
    let api = support::api::Api {
        server: support::Server::start(&["serve", "--no-worker"], &backend.env()).await,
        client: reqwest::Client::new(),
    };
    const MIB: u64 = 1024 * 1024;
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
    eprintln!("12 uploads of 40 MB: RSS {before} MiB before, peak {peak} MiB; answers {answers:?}");
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
}
