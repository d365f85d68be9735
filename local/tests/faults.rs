//! Fault injection: every accepted document finishes. Each scenario runs the real binaries on one
//! delivery path (PostgreSQL + Redis, the embedded store, PostgreSQL + SQS), injects its faults
//! while uploads continue, and then checks the invariants: every upload answered 201 ends
//! COMPLETED or FAILED with a code within `SETTLE`; nothing is left PENDING or PROCESSING; no
//! document has duplicate chunks or a chunk count that disagrees with its chunks; a document
//! once COMPLETED stays so; a `deleted: true` document is gone. One summary line per scenario.
//!
//! Run by `local/faults` (and so by `local/test`); `#[ignore]` keeps them out of the plain
//! `cargo test`, which runs beside other tests on the shared services.

mod support;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use support::{
    PrivateService, TempFolder, TestDb, checkout, eventually,
    fleet::{Database, Fleet, Path, signal},
    lambda::Deployment,
};
use uuid::Uuid;

/// How long the documents of a scenario may take to settle once its faults stop.
const SETTLE: Duration = Duration::from_secs(90);
/// Short leases and a short reconciler grace, so that the faults play out in seconds.
const FAST: [(&str, &str); 2] = [
    ("QUEUE_LEASE_MS", "2000"),
    ("REQUEUE_PENDING_AFTER_MS", "4000"),
];

/// Real Markdown to upload: slices of a changelog, each made unique by its first line.
fn document(n: usize) -> (String, Vec<u8>) {
    let path = checkout().join("../shared/data/documents/md/comrak-CHANGELOG.md");
    let text = std::fs::read_to_string(path).unwrap();
    let sections: Vec<&str> = text.split("\n# ").collect();
    let section = sections[n % sections.len()];
    let body = format!("# Upload {n} ({})\n\n{section}\n", Uuid::new_v4());
    (format!("upload-{n}.md"), body.into_bytes())
}

/// A random number below `n`, from the operating system's randomness.
fn random(n: u64) -> u64 {
    (Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

/// What a scenario did and what it must find at the end.
struct Scenario {
    name: String,
    database: Database,
    accepted: Vec<Uuid>,
    deleted: Vec<Uuid>,
    kills: usize,
    /// Documents seen COMPLETED at any time: they must still be at the end.
    completed: Arc<Mutex<HashSet<Uuid>>>,
    started: Instant,
}

impl Scenario {
    fn new(path: Path, name: &str, database: Database) -> Self {
        let scenario = Self {
            name: format!("{path:?} {name}").to_lowercase(),
            database,
            accepted: Vec::new(),
            deleted: Vec::new(),
            kills: 0,
            completed: Arc::default(),
            started: Instant::now(),
        };
        scenario.watch();
        scenario
    }

    /// Records, every 200 ms while the scenario runs, which documents are COMPLETED.
    fn watch(&self) {
        let (completed, database) = (self.completed.clone(), self.database.clone());
        tokio::spawn(async move {
            while Arc::strong_count(&completed) > 1 {
                if let Ok(rows) = database.rows().await {
                    let done = rows.into_iter().filter(|(_, r)| r.status == "COMPLETED");
                    completed.lock().unwrap().extend(done.map(|(id, _)| id));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }

    async fn upload(&mut self, fleet: &Fleet, n: usize) -> Option<Uuid> {
        let (name, bytes) = document(n);
        let id = fleet.upload(&name, bytes).await?;
        self.accepted.push(id);
        Some(id)
    }

    /// Waits for every accepted document to settle, checks the invariants, prints the summary.
    async fn finish(self) {
        let deadline = Instant::now() + SETTLE;
        let rows = loop {
            let rows = self.database.rows().await.unwrap_or_default();
            let unsettled = |id: &Uuid| {
                rows.get(id)
                    .is_some_and(|r| r.status == "PENDING" || r.status == "PROCESSING")
            };
            if !self.accepted.iter().any(unsettled) || Instant::now() > deadline {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let mut lost = Vec::new();
        let mut failed: HashMap<String, usize> = HashMap::new();
        for id in &self.accepted {
            let deleted = self.deleted.contains(id);
            match rows.get(id) {
                None if deleted => {}
                Some(row) if row.status == "COMPLETED" && !deleted => {
                    assert_eq!(
                        (row.chunks, row.distinct_chunks),
                        (row.chunk_count, row.chunk_count),
                        "{}: {id} has chunks that disagree with its count",
                        self.name
                    );
                    assert!(
                        row.chunk_count > 0,
                        "{}: {id} completed without chunks",
                        self.name
                    );
                }
                Some(row) if row.status == "FAILED" && row.fail_reason.is_some() && !deleted => {
                    *failed.entry(row.fail_reason.clone().unwrap()).or_default() += 1;
                }
                other => lost.push((*id, other.cloned())),
            }
        }
        let completed = self.completed.lock().unwrap().clone();
        for id in completed.iter().filter(|id| !self.deleted.contains(id)) {
            let status = rows.get(id).map(|r| r.status.as_str());
            assert_eq!(
                status,
                Some("COMPLETED"),
                "{}: {id} was downgraded",
                self.name
            );
        }
        let finished = self.accepted.len() - lost.len();
        eprintln!(
            "faults: {}: kills {}, documents {}, deleted {}, finished {finished}, failed {failed:?}, \
             lost {}, settled in {:.1} s",
            self.name,
            self.kills,
            self.accepted.len(),
            self.deleted.len(),
            lost.len(),
            self.started.elapsed().as_secs_f64()
        );
        assert!(
            lost.is_empty(),
            "{}: unfinished after {SETTLE:?}: {lost:?}",
            self.name
        );
    }
}

/// Uploads `count` documents while SIGKILLing a worker at random moments, `kills` times at the
/// least; a few documents are deleted along the way.
async fn kills_while_uploading(
    scenario: &mut Scenario,
    fleet: &mut Fleet,
    count: usize,
    kills: usize,
) {
    let mut n = 0;
    while n < count || scenario.kills < kills {
        if n < count {
            if let Some(id) = scenario.upload(fleet, n).await
                && n % 7 == 3
                && fleet.delete(id).await
            {
                scenario.deleted.push(id);
            }
            n += 1;
        }
        tokio::time::sleep(Duration::from_millis(100 + random(400))).await;
        if random(3) == 0 || n >= count {
            fleet.kill_and_restart(random(2) as usize).await;
            scenario.kills += 1;
        }
    }
}

/// A document that kills its worker at every attempt (the suite kills whichever process has it
/// in hand, once per attempt) ends FAILED as crashed after three, and the workers go on serving.
async fn a_document_that_kills_its_worker(path: Path, fleet: &mut Fleet, database: Database) {
    let mut scenario = Scenario::new(path, "poison", database);
    // The whole changelog: long enough in PROCESSING to be caught there.
    let whole = std::fs::read(checkout().join("../shared/data/documents/md/comrak-CHANGELOG.md"));
    let poison = fleet.upload("poison.md", whole.unwrap()).await.unwrap();
    scenario.accepted.push(poison);
    let (limit, mut killed) = (Instant::now() + SETTLE, 0);
    loop {
        let rows = scenario.database.rows().await.unwrap_or_default();
        let row = rows.get(&poison).cloned();
        match row {
            Some(r) if r.status == "PROCESSING" && r.attempts > killed && r.attempts <= 3 => {
                // Every process that could hold it: the one that does is among them.
                for index in 0..fleet.workers.len().max(1) {
                    fleet.kill_and_restart(index).await;
                }
                killed = r.attempts;
                scenario.kills += 1;
            }
            Some(r) if r.status == "FAILED" => break,
            _ => {}
        }
        assert!(
            Instant::now() < limit,
            "{}: the poison never settled",
            scenario.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = scenario.database.rows().await.unwrap();
    assert_eq!(
        rows[&poison].fail_reason.as_deref(),
        Some("PROCESSING_CRASHED")
    );
    assert_eq!(scenario.kills, 3, "{}: one kill per attempt", scenario.name);
    scenario
        .upload(fleet, 1)
        .await
        .expect("the API still takes uploads");
    scenario.finish().await;
}

fn pause_workers(fleet: &Fleet, how: &str) {
    for worker in &fleet.workers {
        signal(worker, how);
    }
}

/// Deletes a Redis key over the protocol itself (no client needed).
async fn redis_del(url: &str, key: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = url.trim_start_matches("redis://");
    let mut conn = tokio::net::TcpStream::connect(address).await.unwrap();
    let command = format!("*2\r\n$3\r\nDEL\r\n${}\r\n{key}\r\n", key.len());
    conn.write_all(command.as_bytes()).await.unwrap();
    let mut reply = [0u8; 16];
    let n = conn.read(&mut reply).await.unwrap();
    assert!(
        reply[..n].starts_with(b":"),
        "DEL answered {:?}",
        &reply[..n]
    );
}

/// Uploads while `fault` strikes once, a third of the way in.
async fn uploads_around(
    scenario: &mut Scenario,
    fleet: &Fleet,
    count: usize,
    fault: impl AsyncFnOnce(),
) {
    let mut fault = Some(fault);
    for n in 0..count {
        scenario.upload(fleet, 100 + n).await;
        if n == count / 3
            && let Some(fault) = fault.take()
        {
            fault().await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// A worker paused past its lease, then resumed after another finished its document: the
/// stale attempt changes nothing.
async fn a_worker_paused_past_its_lease(fleet: &mut Fleet, database: Database) {
    let mut scenario = Scenario::new(fleet.path, "pause", database);
    let paused = fleet.workers.pop().unwrap();
    let other = std::mem::replace(&mut fleet.workers[0], paused);
    drop(other);
    let whole = std::fs::read(checkout().join("../shared/data/documents/md/comrak-CHANGELOG.md"));
    let mut text = whole.unwrap();
    text.extend_from_slice(b"\n\nPaused past its lease.\n");
    let id = fleet.upload("paused.md", text).await.unwrap();
    scenario.accepted.push(id);
    let status =
        |rows: &HashMap<Uuid, support::fleet::Row>| rows.get(&id).map(|r| r.status.clone());
    let db = &scenario.database;
    let processing = eventually(Duration::from_secs(30), || async {
        status(&db.rows().await.unwrap_or_default()).as_deref() == Some("PROCESSING")
    });
    assert!(processing.await, "the worker took the document");
    signal(&fleet.workers[0], "STOP");
    let second = fleet.start_worker().await;
    let completed = eventually(SETTLE, || async {
        status(&db.rows().await.unwrap_or_default()).as_deref() == Some("COMPLETED")
    });
    assert!(completed.await, "the second worker finished it");
    signal(&fleet.workers[0], "CONT");
    let logs = fleet.workers[0].logs.clone();
    let dropped = eventually(SETTLE, || async {
        logs.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("the result is dropped"))
    });
    assert!(dropped.await, "the resumed worker's result was dropped");
    fleet.workers.push(second);
    scenario.finish().await;
}

fn fast(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.extend(FAST.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

#[tokio::test]
#[ignore = "run by local/faults"]
async fn postgres_and_redis_lose_nothing() {
    let postgres = PrivateService::start("postgres");
    let redis = PrivateService::start("redis");
    let db = TestDb::create_on(&postgres.url).await;
    let queue = format!("faults:{}", Uuid::new_v4().simple());
    let env = fast(vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("REDIS_URL".into(), redis.url.clone()),
        ("QUEUE_NAME".into(), queue.clone()),
    ]);
    let database = || Database::Postgres(db.url.clone());
    let mut fleet = Fleet::start(Path::Redis, env, 2).await;

    let mut kills = Scenario::new(Path::Redis, "kills", database());
    kills_while_uploading(&mut kills, &mut fleet, 30, 20).await;
    kills.finish().await;

    // The workers are paused while documents are queued, so that those jobs are surely lost.
    let mut lost = Scenario::new(Path::Redis, "redis lost and stream deleted", database());
    pause_workers(&fleet, "STOP");
    uploads_around(&mut lost, &fleet, 12, async || {
        redis.stop();
        redis.start_again();
        pause_workers(&fleet, "CONT");
    })
    .await;
    pause_workers(&fleet, "STOP");
    uploads_around(&mut lost, &fleet, 6, async || {
        redis_del(&redis.url, &queue).await;
        pause_workers(&fleet, "CONT");
    })
    .await;
    lost.finish().await;

    let mut restarted = Scenario::new(Path::Redis, "postgres restarted", database());
    uploads_around(&mut restarted, &fleet, 12, async || {
        postgres.stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        postgres.start_again();
    })
    .await;
    restarted.finish().await;

    a_worker_paused_past_its_lease(&mut fleet, database()).await;
    a_document_that_kills_its_worker(Path::Redis, &mut fleet, database()).await;
}

#[tokio::test]
#[ignore = "run by local/faults"]
async fn the_embedded_store_loses_nothing() {
    let folder = TempFolder::new("faults");
    let env = fast(vec![
        ("RAGBASE_DATA_DIR".into(), folder.path.display().to_string()),
        ("REDIS_URL".into(), String::new()),
    ]);
    let database = || Database::Sqlite(folder.path.clone());
    let mut fleet = Fleet::start(Path::Embedded, env, 0).await;
    let mut kills = Scenario::new(Path::Embedded, "kills", database());
    kills_while_uploading(&mut kills, &mut fleet, 30, 20).await;
    kills.finish().await;
    a_document_that_kills_its_worker(Path::Embedded, &mut fleet, database()).await;
}

#[tokio::test]
#[ignore = "run by local/faults"]
async fn postgres_and_sqs_lose_nothing() {
    let deployment = Deployment::new().await;
    let env = deployment.env().into_iter().map(|(k, v)| (k.to_owned(), v));
    let database = || Database::Postgres(deployment.db.url.clone());
    let mut fleet = Fleet::start(Path::Sqs, fast(env.collect()), 2).await;
    let mut kills = Scenario::new(Path::Sqs, "kills", database());
    kills_while_uploading(&mut kills, &mut fleet, 30, 20).await;
    kills.finish().await;
    a_document_that_kills_its_worker(Path::Sqs, &mut fleet, database()).await;
}
