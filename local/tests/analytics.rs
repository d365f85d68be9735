//! The original RAGBase's chunk explorer and analytics expectations (its `chunks-api` and
//! `analytics-api` route tests), against the real binary on each backend. Chunks and processing
//! figures are staged in the store, as the original's tests seeded them; the end-to-end flow in
//! `compatibility.rs` checks what a real worker records.

mod support;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use support::{TestBackend, api::Api, on_each_backend};
use uuid::Uuid;

const FRAGMENT: i32 = 1 << 3;
const NO_CONTEXT: i32 = 1 << 2;
const TOO_SHORT: i32 = 1;

/// Stores a COMPLETED document uploaded `days_ago`.
async fn completed(backend: &TestBackend, filename: &str, days_ago: i64) -> Uuid {
    let id = Uuid::new_v4();
    let format = filename.rsplit('.').next().unwrap();
    let day = (Utc::now() - Duration::days(days_ago)).format("%Y-%m-%d");
    backend
        .insert_document(
            id,
            (filename, format, 1024),
            ("COMPLETED", true),
            &day.to_string(),
        )
        .await;
    id
}

fn ids(answer: &Value) -> Vec<String> {
    answer["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap().to_owned())
        .collect()
}

on_each_backend!(the_chunk_explorer_filters_sorts_and_pages_as_the_original_did);

async fn the_chunk_explorer_filters_sorts_and_pages_as_the_original_did(backend: TestBackend) {
    Api::migrate(&backend).await;
    let (guide, sheet, long) = (
        completed(&backend, "guide.pdf", 0).await,
        completed(&backend, "sheet.csv", 0).await,
        completed(&backend, "long.md", 0).await,
    );
    let staged: [(Uuid, i32, &str, f64, i32); 6] = [
        (guide, 0, "The quick brown fox.", 0.90, 0),
        (guide, 1, "Lazy dog sleeping", 0.70, FRAGMENT),
        (guide, 2, "Machine learning basics.", 0.85, TOO_SHORT),
        (
            guide,
            3,
            "Machine learning advanced.",
            0.50,
            TOO_SHORT | NO_CONTEXT,
        ),
        (sheet, 0, "Python data.", 0.92, 0),
        (sheet, 1, "Python basics", 0.69, FRAGMENT | TOO_SHORT),
    ];
    for (document, index, content, score, flags) in staged {
        let tokens = 10 + index * 10;
        let crumbs: &[&str] = if flags & NO_CONTEXT == 0 {
            &["Guide"]
        } else {
            &[]
        };
        backend
            .insert_chunk(document, (index, content, tokens), (score, flags), crumbs)
            .await;
    }
    for index in 0..25 {
        let text = format!("Part {index}.");
        backend
            .insert_chunk(long, (index, &text, 5), (0.6, 0), &[])
            .await;
    }
    let api = Api::serve_stored(&backend).await;
    let client = &api;
    let list = |query: &str| {
        let path = format!("/api/chunks{query}");
        async move { client.get(&path).await }
    };

    // Pages of 20 by default, with the total.
    let (status, all) = list("").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["chunks"].as_array().unwrap().len(), 20);
    assert_eq!(
        all["pagination"],
        json!({"page": 1, "limit": 20, "total": 31, "totalPages": 2})
    );
    let (_, tens) = list("?limit=10&page=4").await;
    assert_eq!(tens["pagination"]["totalPages"], 4);
    assert_eq!(tens["chunks"].as_array().unwrap().len(), 1);

    // Filters, alone and together; the bands' edges as the original drew them.
    let (_, of_guide) = list(&format!("?documentId={guide}")).await;
    assert_eq!(of_guide["pagination"]["total"], 4);
    assert_eq!(
        ids(&list(&format!("?documentId={guide}&quality=excellent"))
            .await
            .1),
        ["The quick brown fox.", "Machine learning basics."]
    );
    assert_eq!(
        ids(&list(&format!("?documentId={guide}&quality=good")).await.1),
        ["Lazy dog sleeping"]
    );
    assert_eq!(
        ids(&list("?quality=low&type=tabular").await.1),
        ["Python basics"]
    );
    assert_eq!(list("?type=tabular").await.1["pagination"]["total"], 2);
    assert_eq!(list("?type=presentation").await.1["pagination"]["total"], 0);
    assert_eq!(ids(&list("?search=FOX").await.1), ["The quick brown fox."]);
    assert_eq!(
        ids(&list("?search=machine&quality=excellent").await.1),
        ["Machine learning basics."]
    );
    assert_eq!(
        ids(&list(&format!(
            "?documentId={guide}&quality=excellent&type=document&search=quick"
        ))
        .await
        .1),
        ["The quick brown fox."]
    );
    assert_eq!(list("?flags=TOO_SHORT").await.1["pagination"]["total"], 3);
    assert_eq!(
        list("?flags=FRAGMENT,NO_CONTEXT").await.1["pagination"]["total"],
        3
    );

    // Sorting: by score (highest first by default), by size.
    assert_eq!(
        ids(&list("?type=tabular&sortBy=qualityScore").await.1),
        ["Python data.", "Python basics"]
    );
    let (_, by_size) = list(&format!(
        "?documentId={guide}&sortBy=tokenCount&sortOrder=asc"
    ))
    .await;
    let sizes: Vec<&Value> = by_size["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["tokenCount"])
        .collect();
    assert_eq!(sizes, [&json!(10), &json!(20), &json!(30), &json!(40)]);

    // What the explorer reads of each chunk.
    let first = &list(&format!("?documentId={sheet}")).await.1["chunks"][1];
    assert_eq!(first["qualityFlags"], json!(["TOO_SHORT", "FRAGMENT"]));
    assert_eq!(
        (&first["chunkType"], &first["formatCategory"]),
        (&json!("tabular"), &json!("tabular"))
    );
    assert_eq!(
        (&first["completeness"], &first["hasTitle"]),
        (&json!("partial"), &json!(false))
    );
    assert_eq!(
        (&first["filename"], &first["format"]),
        (&json!("sheet.csv"), &json!("csv"))
    );

    // One chunk, whole; 404 for an unknown one.
    let id = first["id"].as_str().unwrap();
    let (status, detail) = api.get(&format!("/api/chunks/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&detail["content"], &detail["qualityScore"]),
        (&json!("Python basics"), &json!(0.69))
    );
    assert_eq!(
        detail["document"],
        json!({"id": sheet, "filename": "sheet.csv", "format": "csv", "formatCategory": "tabular"})
    );
    assert!(detail["createdAt"].is_string(), "{detail}");
    for unknown in ["00000000-0000-0000-0000-000000000000", "not-an-id"] {
        let (status, body) = api.get(&format!("/api/chunks/{unknown}")).await;
        assert_eq!((status, &body["error"]), (404, &json!("NOT_FOUND")));
    }
    for bad in [
        "?quality=great",
        "?type=slides",
        "?limit=101",
        "?flags=SHORT",
        "?documentId=7",
    ] {
        let (status, body) = list(bad).await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("VALIDATION_ERROR")),
            "{bad}"
        );
    }
}

on_each_backend!(the_analytics_report_the_processing_figures_as_the_original_did);

async fn the_analytics_report_the_processing_figures_as_the_original_did(backend: TestBackend) {
    Api::migrate(&backend).await;
    let now = Utc::now();
    let manual = completed(&backend, "manual.pdf", 0).await;
    let letter = completed(&backend, "letter.docx", 1).await;
    let old = completed(&backend, "old.pdf", 40).await;
    let failed = Uuid::new_v4();
    let today = now.format("%Y-%m-%d").to_string();
    backend
        .insert_document(failed, ("broken.pdf", "pdf", 10), ("FAILED", true), &today)
        .await;
    // [queue, conversion, chunking, embedding, total]
    backend
        .insert_metrics(manual, [500, 500, 200, 300, 1000], (5, 400, 0.92), now)
        .await;
    backend
        .insert_metrics(letter, [1000, 500, 200, 300, 2000], (0, 200, 0.78), now)
        .await;
    backend
        .insert_metrics(
            old,
            [0, 0, 0, 0, 9000],
            (1, 50, 0.5),
            now - Duration::days(40),
        )
        .await;
    let chunks = [
        ("One. ", 0.90, 0, true),
        ("Two", 0.75, FRAGMENT, true),
        ("Three. ", 0.60, TOO_SHORT | NO_CONTEXT, false),
        ("Four. ", 0.87, 0, false),
    ];
    for (index, (text, score, flags, crumbs)) in chunks.into_iter().enumerate() {
        let crumbs: &[&str] = if crumbs { &["Manual"] } else { &[] };
        backend
            .insert_chunk(manual, (index as i32, text, 100), (score, flags), crumbs)
            .await;
    }
    backend
        .insert_chunk(old, (0, "Old.", 10), (0.5, 0), &[])
        .await;
    let api = Api::serve_stored(&backend).await;

    // overview: uploads in the period (7 days by default), and the figures of those processed.
    let (status, overview) = api.get("/api/analytics/overview").await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["period"], "7d");
    assert_eq!(overview["totalDocuments"], 2);
    assert_eq!(overview["totalChunks"], 4);
    assert_eq!(overview["successRate"], 66.67);
    assert_eq!(overview["formatDistribution"], json!({"docx": 1, "pdf": 2}));
    assert_eq!(
        (
            &overview["avgProcessingTimeMs"],
            &overview["avgQueueTimeMs"]
        ),
        (&json!(1500), &json!(750))
    );
    assert_eq!(overview["avgUserWaitTimeMs"], 2250);
    assert_eq!(
        (&overview["avgQualityScore"], &overview["totalTokens"]),
        (&json!(0.85), &json!(600))
    );
    let (_, everything) = api.get("/api/analytics/overview?period=all").await;
    assert_eq!(
        (&everything["totalDocuments"], &everything["totalChunks"]),
        (&json!(3), &json!(5))
    );
    let (_, day) = api.get("/api/analytics/overview?period=24h").await;
    assert_eq!(day["formatDistribution"], json!({"pdf": 2}));

    // processing: each phase's average, per format, and the trend.
    let (_, processing) = api.get("/api/analytics/processing").await;
    assert_eq!(
        processing["breakdown"],
        json!({"avgConversionTimeMs": 500, "avgChunkingTimeMs": 200, "avgEmbeddingTimeMs": 300,
            "avgTotalTimeMs": 1500, "avgQueueTimeMs": 750, "avgUserWaitTimeMs": 2250})
    );
    assert_eq!(
        (&processing["documentsProcessed"], &processing["format"]),
        (&json!(2), &json!("all"))
    );
    assert_eq!(
        (
            &processing["avgConversionTimePerPage"],
            &processing["ocrUsagePercent"]
        ),
        (&json!(200), &json!(0))
    );
    let counted: i64 = processing["trends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, 2, "{processing}");
    let (_, pdfs) = api
        .get("/api/analytics/processing?format=pdf&period=30d")
        .await;
    assert_eq!(
        (&pdfs["documentsProcessed"], &pdfs["format"]),
        (&json!(1), &json!("pdf"))
    );

    // quality: the chunks of the documents processed in the period.
    let (_, quality) = api.get("/api/analytics/quality").await;
    assert_eq!(quality["totalChunks"], 4);
    assert_eq!(quality["avgQualityScore"], 0.78);
    assert_eq!(
        quality["distribution"],
        json!({"excellent": 2, "good": 1, "low": 1})
    );
    assert_eq!(
        quality["flags"],
        json!({"FRAGMENT": 1, "NO_CONTEXT": 1, "TOO_SHORT": 1})
    );
    for (rate, expected) in [
        ("fragmentRate", 25),
        ("noContextRate", 25),
        ("tooShortRate", 25),
        ("contextInjectionRate", 50),
        ("avgTokensPerChunk", 100),
    ] {
        assert_eq!(quality[rate], expected, "{rate}: {quality}");
    }

    // documents: the processed ones with their figures, sorted and paged.
    let (_, slowest) = api.get("/api/analytics/documents?sortBy=totalTimeMs").await;
    assert_eq!(slowest["pagination"]["total"], 2);
    let first = &slowest["documents"][0];
    assert_eq!(
        (&first["id"], &first["formatCategory"]),
        (&json!(letter), &json!("document"))
    );
    assert_eq!(
        (
            &first["metrics"]["totalTimeMs"],
            &first["metrics"]["userWaitTimeMs"]
        ),
        (&json!(2000), &json!(3000))
    );
    assert_eq!(first["metrics"]["avgQualityScore"], 0.78);
    let (_, paged) = api
        .get("/api/analytics/documents?limit=1&period=all&sortBy=avgQualityScore&sortOrder=asc")
        .await;
    assert_eq!(
        (
            &paged["pagination"]["totalPages"],
            &paged["documents"][0]["id"]
        ),
        (&json!(3), &json!(old))
    );

    // A document's chunks in order; 404 for an unknown document.
    let (_, of_manual) = api
        .get(&format!("/api/analytics/documents/{manual}/chunks?limit=3"))
        .await;
    assert_eq!(
        (&of_manual["documentId"], &of_manual["filename"]),
        (&json!(manual), &json!("manual.pdf"))
    );
    let indexes: Vec<&Value> = of_manual["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["index"])
        .collect();
    assert_eq!(indexes, [&json!(0), &json!(1), &json!(2)]);
    assert_eq!(of_manual["pagination"]["totalPages"], 2);
    let (status, body) = api
        .get(&format!(
            "/api/analytics/documents/{}/chunks",
            Uuid::new_v4()
        ))
        .await;
    assert_eq!((status, &body["error"]), (404, &json!("NOT_FOUND")));
    for bad in [
        "overview?period=1y",
        "processing?format=png",
        "documents?sortBy=size",
        "documents?page=0",
    ] {
        let (status, body) = api.get(&format!("/api/analytics/{bad}")).await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("VALIDATION_ERROR")),
            "{bad}"
        );
    }
}
