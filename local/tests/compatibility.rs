//! The original RAGBase's own expectations, from its route and end-to-end tests and from what its
//! frontend reads, run as black-box tests against the real binary on each backend. Documents in
//! each status are staged in the store, as the original's tests seeded them. Where this service
//! deliberately differs (README, "Compatibility"), the test says so.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::{
    TestBackend,
    api::{Api, KEY},
    on_each_backend, run_ragbase,
};
use uuid::Uuid;

/// A keyed client of a `ragbase serve --no-worker` over `backend`, with `staged` documents
/// (filename, status, active) stored first; their ids, in order.
async fn serve_with(backend: &TestBackend, staged: &[(&str, &str, bool)]) -> (Api, Vec<Uuid>) {
    Api::migrate(backend).await;
    let mut ids = Vec::new();
    for (day, (filename, status, active)) in staged.iter().enumerate() {
        let id = Uuid::new_v4();
        let created = format!("2026-01-{:02}", day + 1);
        backend
            .insert_document(id, (filename, "pdf", 1024), (status, *active), &created)
            .await;
        ids.push(id);
    }
    (Api::serve_stored(backend).await, ids)
}

const UNKNOWN: &str = "550e8400-e29b-41d4-a716-446655440000";

on_each_backend!(the_list_and_document_routes_answer_as_the_original_did);

async fn the_list_and_document_routes_answer_as_the_original_did(backend: TestBackend) {
    let staged = [
        ("pending.pdf", "PENDING", true),
        ("done.pdf", "COMPLETED", true),
        ("failed.pdf", "FAILED", false),
    ];
    let (api, ids) = serve_with(&backend, &staged).await;
    let (pending, done, failed) = (ids[0], ids[1], ids[2]);

    // list-route: counts over the whole collection, in the original's keys.
    let (status, page) = api.get("/api/documents").await;
    assert_eq!(status, 200);
    assert_eq!(
        page["counts"],
        json!({"total": 3, "active": 2, "inactive": 1, "pending": 1, "processing": 0, "completed": 1, "failed": 1})
    );
    // What the document list of the original's UI reads.
    let listed = &page["documents"].as_array().unwrap();
    let summary = listed.iter().find(|d| d["id"] == json!(done)).unwrap();
    for field in [
        "id",
        "filename",
        "status",
        "fileSize",
        "createdAt",
        "isActive",
        "connectionState",
        "sourceType",
    ] {
        assert!(!summary[field].is_null(), "{field}: {summary}");
    }
    assert_eq!(summary["hasProcessedContent"], true);
    let waiting = listed.iter().find(|d| d["id"] == json!(pending)).unwrap();
    assert_eq!(waiting["hasProcessedContent"], false);
    // Absent, not null, when there is nothing to say.
    assert!(
        waiting.get("failReason").is_none() && waiting.get("chunkCount").is_none(),
        "{waiting}"
    );
    assert_eq!(
        api.get("/api/documents?sourceType=DRIVE").await.1["total"],
        0
    );
    assert_eq!(
        api.get("/api/documents?connectionState=LINKED").await.1["total"],
        0
    );
    let (status, bad) = api
        .get(&format!("/api/documents?search={}", "x".repeat(101)))
        .await;
    assert_eq!((status, &bad["error"]), (400, &json!("VALIDATION_ERROR")));

    // status-route: chunkCount once COMPLETED; 404 and 400.
    assert_eq!(
        api.get(&format!("/api/documents/{done}")).await.1["chunkCount"],
        0
    );
    let (status, body) = api
        .get("/api/documents/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!((status, &body["error"]), (404, &json!("NOT_FOUND")));
    assert_eq!(
        api.get("/api/documents/invalid-id").await.1["error"],
        "INVALID_ID"
    );

    // content-route: a bad format is INVALID_FORMAT; not ready until COMPLETED.
    let (status, body) = api
        .get(&format!("/api/documents/{done}/content?format=invalid"))
        .await;
    assert_eq!((status, &body["error"]), (400, &json!("INVALID_FORMAT")));
    let (status, body) = api
        .get(&format!("/api/documents/{pending}/content?format=markdown"))
        .await;
    assert_eq!((status, &body["error"]), (409, &json!("NOT_READY")));

    // availability-route: only COMPLETED documents are toggled.
    let toggle = async |id: Uuid, active: Value| {
        let path = format!("/api/documents/{id}/availability");
        api.send(Method::PATCH, &path, &json!({"isActive": active}))
            .await
    };
    let (status, body) = toggle(done, json!(false)).await;
    assert_eq!((status, &body["isActive"]), (200, &json!(false)), "{body}");
    assert!(body["updatedAt"].is_string());
    for id in [pending, failed] {
        let (status, body) = toggle(id, json!(true)).await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("INVALID_STATUS")),
            "{body}"
        );
    }
    assert_eq!(toggle(UNKNOWN.parse().unwrap(), json!(true)).await.0, 404);
    assert_eq!(
        toggle(done, json!("not-boolean")).await.1["error"],
        "VALIDATION_ERROR"
    );

    // retry-route: FAILED → PENDING, its reason gone (absent); anything else is INVALID_STATUS.
    let (status, body) = api
        .send(
            Method::POST,
            &format!("/api/documents/{failed}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("PENDING")),
        "{body}"
    );
    let (_, retried) = api.get(&format!("/api/documents/{failed}")).await;
    assert_eq!(
        (&retried["retryCount"], retried.get("failReason")),
        (&json!(0), None)
    );
    let (status, body) = api
        .send(
            Method::POST,
            &format!("/api/documents/{done}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!((status, &body["error"]), (400, &json!("INVALID_STATUS")));
    assert_eq!(
        api.send(Method::POST, "/api/documents/not-a-uuid/retry", &json!({}))
            .await
            .1["error"],
        "INVALID_ID"
    );

    // delete-route: 409 while a worker holds it, then gone.
    backend.set_status(pending, "PROCESSING").await;
    let (status, body) = api
        .send(
            Method::DELETE,
            &format!("/api/documents/{pending}"),
            &json!({}),
        )
        .await;
    assert_eq!((status, &body["error"]), (409, &json!("CONFLICT")));
    let (status, body) = api
        .send(
            Method::DELETE,
            &format!("/api/documents/{done}"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, &body),
        (200, &json!({"id": done, "deleted": true}))
    );
    assert_eq!(api.get(&format!("/api/documents/{done}")).await.0, 404);
}

on_each_backend!(the_bulk_routes_report_what_they_changed_and_why_not);

async fn the_bulk_routes_report_what_they_changed_and_why_not(backend: TestBackend) {
    let staged = [
        ("a.pdf", "COMPLETED", true),
        ("b.pdf", "COMPLETED", true),
        ("pending.pdf", "PENDING", true),
        ("failed-1.pdf", "FAILED", true),
        ("failed-2.pdf", "FAILED", true),
        ("busy.pdf", "PROCESSING", true),
    ];
    let (api, ids) = serve_with(&backend, &staged).await;
    backend.set_status(ids[5], "PROCESSING").await; // with a live lease
    let bulk = async |method: Method, what: &str, body: Value| {
        api.send(method, &format!("/api/documents/bulk/{what}"), &body)
            .await
    };

    let (status, body) = bulk(
        Method::PATCH,
        "availability",
        json!({"documentIds": [ids[0], ids[1]], "isActive": false}),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"updated": 2, "failed": []})));
    let (_, body) = bulk(
        Method::PATCH,
        "availability",
        json!({"documentIds": [ids[0], ids[2], UNKNOWN], "isActive": true}),
    )
    .await;
    assert_eq!(body["updated"], 1);
    assert_eq!(body["failed"][0]["id"], json!(ids[2]));
    assert!(
        body["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("PENDING"),
        "{body}"
    );
    assert_eq!(
        body["failed"][1],
        json!({"id": UNKNOWN, "reason": "Document not found"})
    );

    let (_, body) = bulk(
        Method::POST,
        "retry",
        json!({"documentIds": [ids[3], ids[4], ids[0]]}),
    )
    .await;
    assert_eq!(body["retried"], 2, "{body}");
    assert!(
        body["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("COMPLETED"),
        "{body}"
    );

    let (_, body) = bulk(
        Method::POST,
        "delete",
        json!({"documentIds": [ids[0], ids[1], ids[5], UNKNOWN]}),
    )
    .await;
    assert_eq!(body["deleted"], 2, "{body}");
    assert_eq!(body["failed"][0]["id"], json!(ids[5]));
    assert!(
        body["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("processing"),
        "{body}"
    );
    assert_eq!(api.get(&format!("/api/documents/{}", ids[0])).await.0, 404);

    // Validation: an empty list, a malformed id, more than 100, a missing field.
    let many: Vec<String> = (0..101).map(|_| Uuid::new_v4().to_string()).collect();
    for (method, what, body) in [
        (
            Method::PATCH,
            "availability",
            json!({"documentIds": [], "isActive": false}),
        ),
        (
            Method::PATCH,
            "availability",
            json!({"documentIds": ["not-a-uuid"], "isActive": false}),
        ),
        (
            Method::PATCH,
            "availability",
            json!({"documentIds": [UNKNOWN]}),
        ),
        (Method::POST, "delete", json!({"documentIds": []})),
        (Method::POST, "delete", json!({"documentIds": many})),
        (
            Method::POST,
            "retry",
            json!({"documentIds": ["not-a-uuid"]}),
        ),
    ] {
        let (status, reply) = bulk(method, what, body.clone()).await;
        assert_eq!(
            (status, &reply["error"]),
            (400, &json!("VALIDATION_ERROR")),
            "{what} {body}"
        );
    }
}

on_each_backend!(the_events_stream_reports_every_change_to_key_holders);

async fn the_events_stream_reports_every_change_to_key_holders(backend: TestBackend) {
    let (api, ids) = serve_with(&backend, &[("done.pdf", "COMPLETED", true)]).await;
    // EventSource cannot send headers: the key comes in the query, and is required.
    let url = api.server.url("/api/events");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    let wrong = reqwest::get(format!("{url}?apiKey=wrong-key-0123456789"))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let response = reqwest::get(format!("{url}?apiKey={KEY}")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response;

    let (status, uploaded) = {
        let notes = b"Notes about the events stream.".to_vec();
        api.upload("notes.txt", notes).await
    };
    assert_eq!((status, &uploaded["format"]), (201, &json!("txt")));
    let done = ids[0];
    api.send(
        Method::PATCH,
        &format!("/api/documents/{done}/availability"),
        &json!({"isActive": false}),
    )
    .await;
    api.send(
        Method::DELETE,
        &format!("/api/documents/{done}"),
        &json!({}),
    )
    .await;

    let mut text = String::new();
    let expected = [
        "document:created",
        "document:availability",
        "document:deleted",
    ];
    let read = async {
        while !expected.iter().all(|e| text.contains(e)) {
            let piece = stream.chunk().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&piece));
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .is_ok(),
        "{text}"
    );
    assert!(text.starts_with(": connected"), "{text}");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert_eq!(
        events
            .iter()
            .map(|e| (e["type"].as_str().unwrap(), e["payload"]["id"].clone()))
            .collect::<Vec<_>>(),
        [
            ("document:created", uploaded["id"].clone()),
            ("document:availability", json!(done)),
            ("document:deleted", json!(done))
        ]
    );
    assert_eq!(events[0]["payload"]["filename"], "notes.txt");
    assert_eq!(events[1]["payload"]["isActive"], false);
    assert!(events.iter().all(|e| e["timestamp"].is_string()));
    // The key in the query string is never logged.
    assert!(
        !api.server
            .logs
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(KEY))
    );
}

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(
        support::checkout()
            .join("../shared/data/documents")
            .join(path),
    )
    .unwrap()
}

on_each_backend!(the_original_end_to_end_flows_hold);

/// The original's e2e suites (pdf-upload, multi-format, query and error-handling flows), with
/// its own sample files, through the real worker and model.
async fn the_original_end_to_end_flows_hold(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    // pdf-upload-flow: upload, processed, found.
    let (status, pdf) = api
        .upload("test.pdf", sample("pdf/simple-digital.pdf"))
        .await;
    assert_eq!(
        (status, &pdf["status"], &pdf["format"]),
        (201, &json!("PENDING"), &json!("pdf"))
    );
    let pdf_id = pdf["id"].as_str().unwrap().to_owned();
    api.settle(Duration::from_secs(120)).await;
    let (_, document) = api.get(&format!("/api/documents/{pdf_id}")).await;
    assert_eq!(document["status"], "COMPLETED", "{document}");
    assert!(document["chunkCount"].as_i64().unwrap() > 0);
    let search = json!({"query": "test document content", "topK": 5});
    let (status, found) = api.send(Method::POST, "/api/query", &search).await;
    assert_eq!(status, 200);
    assert_eq!(found["results"][0]["documentId"], json!(pdf_id));
    let score = found["results"][0]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{score}");

    // analytics-e2e: the worker recorded its figures and each chunk's quality.
    let chunks = document["chunkCount"].clone();
    let (_, processed) = api.get("/api/analytics/documents?period=24h").await;
    let figures = &processed["documents"][0]["metrics"];
    assert_eq!(
        processed["documents"][0]["id"],
        json!(pdf_id),
        "{processed}"
    );
    assert_eq!(
        (&figures["totalChunks"], &figures["pageCount"]),
        (&chunks, &json!(1))
    );
    assert_eq!(figures["rawSizeBytes"], document["fileSize"]);
    assert!(
        figures["embeddingTimeMs"].as_i64().unwrap() > 0,
        "{figures}"
    );
    assert!(
        figures["markdownSizeChars"].as_i64().unwrap() > 0,
        "{figures}"
    );
    let (_, explored) = api.get(&format!("/api/chunks?documentId={pdf_id}")).await;
    assert_eq!(explored["pagination"]["total"], chunks);
    for chunk in explored["chunks"].as_array().unwrap() {
        let score = chunk["qualityScore"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{chunk}");
    }
    let (_, overview) = api.get("/api/analytics/overview?period=24h").await;
    assert_eq!(
        (&overview["totalDocuments"], &overview["totalChunks"]),
        (&json!(1), &chunks)
    );

    // multi-format-flow and error-handling: names as the original's tests gave them.
    let noisy = format!(
        "{}{}",
        "#$%&*@!?/\\|~^".repeat(8),
        "a few more than twenty letters"
    );
    let uploads = [
        ("test.md", sample("md/with-headers.md"), "md", "COMPLETED"),
        ("test.txt", sample("txt/normal.txt"), "txt", "COMPLETED"),
        ("test.json", sample("json/valid.json"), "json", "COMPLETED"),
        (
            "protected.pdf",
            sample("pdf/password-protected.pdf"),
            "pdf",
            "PASSWORD_PROTECTED",
        ),
        (
            "corrupt.pdf",
            sample("pdf/corrupt.pdf"),
            "pdf",
            "CORRUPT_FILE",
        ),
        ("short.txt", b"Too short".to_vec(), "txt", "TEXT_TOO_SHORT"),
        ("noisy.txt", noisy.into_bytes(), "txt", "EXCESSIVE_NOISE"),
    ];
    let mut ids = Vec::new();
    for (name, bytes, format, _) in &uploads {
        let (status, body) = api.upload(name, bytes.clone()).await;
        assert_eq!(
            (status, &body["format"]),
            (201, &json!(format)),
            "{name}: {body}"
        );
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, duplicate) = api
        .upload("second.pdf", sample("pdf/simple-digital.pdf"))
        .await;
    assert_eq!(
        (status, &duplicate["error"], &duplicate["existingId"]),
        (409, &json!("DUPLICATE_FILE"), &json!(pdf_id))
    );
    let (status, image) = api.upload("image.png", b"fake".to_vec()).await;
    assert_eq!((status, &image["error"]), (400, &json!("INVALID_FORMAT")));
    api.settle(Duration::from_secs(120)).await;
    for ((name, _, _, outcome), id) in uploads.iter().zip(&ids) {
        let (_, document) = api.get(&format!("/api/documents/{id}")).await;
        match *outcome {
            "COMPLETED" => assert_eq!(document["status"], "COMPLETED", "{name}: {document}"),
            reason => assert_eq!(
                (&document["status"], &document["failReason"]),
                (&json!("FAILED"), &json!(reason)),
                "{name}"
            ),
        }
    }
    for question in [
        "markdown features",
        "plain text content",
        "JSON structured data",
    ] {
        let (_, found) = api
            .send(Method::POST, "/api/query", &json!({"query": question}))
            .await;
        assert!(
            !found["results"].as_array().unwrap().is_empty(),
            "{question}"
        );
    }
}

on_each_backend!(the_change_log_keeps_the_newest_ten_thousand);

async fn the_change_log_keeps_the_newest_ten_thousand(backend: TestBackend) {
    let mut env = backend.env();
    env.push(("API_KEY", KEY));
    assert!(run_ragbase(&["migrate"], &env).await.0);
    let (kept, newest) = backend.load_documents_and_read_the_log(10_050).await;
    assert_eq!((kept, newest), (10_001, 10_050));
}
