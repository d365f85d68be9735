//! The store's side of "every accepted document finishes", run in process against both SQL stores
//! (PostgreSQL with pgvector, and the embedded SQLite): attempts are counted at each pickup,
//! crashes included; every write of an attempt is fenced by its token, so a stale one changes
//! nothing; a live lease holds the document against a second pickup, a delete and a retry; the
//! reconciler queues again what was lost and fails what crashed every time.

mod support;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use ragbase::{
    Error,
    adapters::{postgres::PgStore, sqlite::SqliteStore},
    domain::{
        chunk_quality::{ChunkQuality, QualityRules},
        chunking::Chunk,
        documents::{DocumentStatus, NewDocument},
        failure::{Failure, FailureCode},
        formats::Format,
        processing::{Attempt, MAX_ATTEMPTS, Pickup, ProcessingMetrics},
        sha256,
    },
    ports::{DocumentStore, Store},
};
use support::{TempFolder, TestDb};
use uuid::Uuid;

/// A store of each kind, with what keeps it alive.
async fn stores() -> Vec<(&'static str, Arc<dyn Store>, Box<dyn std::any::Any>)> {
    let folder = TempFolder::new("attempts");
    let embedded = SqliteStore::open(&folder.path).await.unwrap();
    let db = TestDb::create().await;
    let postgres = PgStore::connect(&db.url, 40, Duration::from_secs(30)).unwrap();
    postgres.migrate().await.unwrap();
    vec![
        ("embedded", Arc::new(embedded), Box::new(folder)),
        ("postgres", Arc::new(postgres), Box::new(db)),
    ]
}

async fn upload(store: &dyn Store, text: &str) -> Uuid {
    let bytes = text.as_bytes().to_vec();
    let new = NewDocument {
        id: Uuid::new_v4(),
        filename: "notes.txt".into(),
        format: Format::Text,
        content_hash: sha256(&bytes),
        bytes,
    };
    store.create_document(new).await.unwrap().id
}

fn in_secs(secs: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(secs)
}

/// Starts an attempt that must start.
async fn begin(store: &dyn Store, id: Uuid, lease_until: DateTime<Utc>) -> Attempt {
    match store.begin_processing(id, lease_until).await.unwrap() {
        Pickup::Started(attempt) => attempt,
        other => panic!("expected a start, got {other:?}"),
    }
}

fn one_chunk(text: &str) -> Vec<(Chunk, Vec<f32>)> {
    let chunk = Chunk {
        index: 0,
        content: text.into(),
        embedding_input: text.into(),
        page: None,
        heading: None,
        breadcrumbs: vec!["Notes".into()],
        char_start: 0,
        char_end: text.chars().count(),
        token_count: 3,
        quality: ChunkQuality::assess(text, &["Notes".into()], &QualityRules::DEFAULT),
    };
    let mut vector = vec![0.0; 384];
    vector[0] = 1.0;
    vec![(chunk, vector)]
}

async fn status(store: &dyn Store, id: Uuid) -> Option<DocumentStatus> {
    store.document(id).await.unwrap().map(|d| d.status)
}

#[tokio::test]
async fn a_stale_attempt_changes_nothing_once_another_took_over() {
    for (kind, store, _keep) in stores().await {
        let store = store.as_ref();
        let id = upload(store, "stale attempts").await;
        // A worker paused past its lease: its attempt has run out when the next one starts.
        let stale = begin(store, id, in_secs(-1)).await;
        let current = begin(store, id, in_secs(60)).await;
        assert_eq!((stale.number, current.number), (1, 2), "{kind}");
        assert!(
            store
                .finish_processing(
                    &current,
                    "fresh",
                    &one_chunk("fresh"),
                    &ProcessingMetrics::default()
                )
                .await
                .unwrap()
        );

        let failure = Failure::new(FailureCode::InternalError, "resumed after a pause");
        assert!(
            !store.fail_processing(&stale, &failure, true).await.unwrap(),
            "{kind}"
        );
        assert!(
            !store
                .finish_processing(
                    &stale,
                    "stale",
                    &one_chunk("stale"),
                    &ProcessingMetrics::default()
                )
                .await
                .unwrap()
        );
        assert!(
            !store.renew_processing(&stale, in_secs(60)).await.unwrap(),
            "{kind}"
        );
        let content = store.document_content(id).await.unwrap();
        assert_eq!(content.document.status, DocumentStatus::Completed, "{kind}");
        assert_eq!(content.processed_content, "fresh", "{kind}");
        assert_eq!(content.chunks.len(), 1, "{kind}");
        // A late delivery of the job finds the document settled.
        let late = store.begin_processing(id, in_secs(60)).await.unwrap();
        assert!(matches!(late, Pickup::Settled), "{kind}: {late:?}");
    }
}

#[tokio::test]
async fn a_live_lease_holds_the_document_and_a_lapsed_one_lets_its_owner_out() {
    for (kind, store, _keep) in stores().await {
        let store = store.as_ref();
        let id = upload(store, "held documents").await;
        let held = begin(store, id, in_secs(60)).await;
        let second = store.begin_processing(id, in_secs(60)).await.unwrap();
        assert!(matches!(second, Pickup::Held), "{kind}: {second:?}");
        let deleted = store.delete_document(id).await;
        assert!(
            matches!(deleted, Err(Error::Conflict(_))),
            "{kind}: {deleted:?}"
        );
        let retried = store.retry_document(id).await;
        assert!(
            matches!(retried, Err(Error::InvalidStatus(_))),
            "{kind}: {retried:?}"
        );

        // Its worker died: once the lease runs out, the owner may retry (attempts start afresh).
        assert!(store.renew_processing(&held, in_secs(-1)).await.unwrap());
        let retried = store.retry_document(id).await.unwrap();
        assert_eq!(retried.status, DocumentStatus::Pending, "{kind}");
        assert!(
            !store
                .finish_processing(
                    &held,
                    "late",
                    &one_chunk("late"),
                    &ProcessingMetrics::default()
                )
                .await
                .unwrap()
        );
        assert_eq!(begin(store, id, in_secs(-1)).await.number, 1, "{kind}");
        // … or delete it.
        store.delete_document(id).await.unwrap();
        assert_eq!(status(store, id).await, None, "{kind}");
    }
}

#[tokio::test]
async fn the_reconciler_requeues_lost_jobs_and_fails_documents_that_crashed_every_time() {
    for (kind, store, _keep) in stores().await {
        let store = store.as_ref();
        let lost = upload(store, "a job the queue lost").await;
        let crashing = upload(store, "a document that kills its worker").await;
        let stalled = upload(store, "a worker that died once").await;
        for _ in 0..MAX_ATTEMPTS {
            begin(store, crashing, in_secs(-1)).await;
        }
        begin(store, stalled, in_secs(-1)).await;
        let live = upload(store, "a worker at work").await;
        begin(store, live, in_secs(60)).await;
        // `lost` is older than this; `waiting`, stored after it, is newer.
        let pending_before = Utc::now();
        tokio::time::sleep(Duration::from_millis(20)).await;
        upload(store, "a job still in the queue").await;

        let pass = store.reconcile(pending_before, MAX_ATTEMPTS).await.unwrap();
        let mut requeued = pass.requeued.clone();
        requeued.sort();
        let mut expected = vec![lost, stalled];
        expected.sort();
        assert_eq!(requeued, expected, "{kind}");
        assert_eq!(pass.crashed, vec![Format::Text], "{kind}");
        let failed = store.document(crashing).await.unwrap().unwrap();
        assert_eq!(failed.status, DocumentStatus::Failed, "{kind}");
        assert_eq!(
            failed.fail_reason.as_deref(),
            Some("PROCESSING_CRASHED"),
            "{kind}"
        );
        assert_eq!(
            status(store, stalled).await,
            Some(DocumentStatus::Pending),
            "{kind}"
        );
        assert_eq!(
            status(store, live).await,
            Some(DocumentStatus::Processing),
            "{kind}"
        );

        // Requeued documents were touched: the next pass leaves them to their new jobs.
        let again = store.reconcile(pending_before, MAX_ATTEMPTS).await.unwrap();
        assert!(
            again.requeued.is_empty() && again.crashed.is_empty(),
            "{kind}: {again:?}"
        );
        // The stalled document's next pickup is its second attempt.
        assert_eq!(begin(store, stalled, in_secs(60)).await.number, 2, "{kind}");
    }
}

/// PostgreSQL's delete read its fallback status from the statement's snapshot: a delete that
/// waited on a worker's pickup answered `deleted` and left the document PROCESSING.
#[tokio::test]
async fn a_delete_that_waits_on_a_pickup_answers_conflict_and_deletes_nothing() {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url, 40, Duration::from_secs(30)).unwrap();
    store.migrate().await.unwrap();
    let id = upload(&store, "a race with the worker").await;
    let mut worker = db.connect().await;
    sqlx::query("BEGIN").execute(&mut worker).await.unwrap();
    sqlx::query(
        "UPDATE documents SET status = 'PROCESSING', attempts = 1, processing_token = gen_random_uuid(), \
         lease_until = now() + interval '1 hour' WHERE id = $1",
    )
    .bind(id)
    .execute(&mut worker)
    .await
    .unwrap();
    let delete = tokio::spawn({
        let store = store.clone();
        async move { store.delete_document(id).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !delete.is_finished(),
        "the delete waits for the pickup's row lock"
    );
    sqlx::query("COMMIT").execute(&mut worker).await.unwrap();
    let deleted = delete.await.unwrap();
    assert!(matches!(deleted, Err(Error::Conflict(_))), "{deleted:?}");
    assert_eq!(status(&store, id).await, Some(DocumentStatus::Processing));
}
