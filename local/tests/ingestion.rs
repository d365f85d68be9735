//! Upload → queue → worker → chunks and real embeddings in pgvector, over HTTP, against real
//! PostgreSQL, Redis and the real model.

mod support;

use std::{collections::HashMap, path::PathBuf, time::Duration};

use serde_json::{Value, json};
use support::{
    Server, TestBackend,
    api::{Api, KEY},
    checkout, on_each_backend,
};

fn samples(folder: &str) -> Vec<PathBuf> {
    let dir = checkout().join("../shared/data/documents").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Announces an upload of `size` bytes and returns the server's answer, which comes before the
/// body is sent: a 51 MB upload is refused without reading 51 MB.
async fn oversized_upload_answer(server: &Server, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/documents HTTP/1.1\r\nHost: test\r\nx-api-key: {KEY}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {size}\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

on_each_backend!(
    every_sample_document_completes_or_fails_with_its_code,
    duplicates_oversize_files_and_the_document_lifecycle,
);

async fn every_sample_document_completes_or_fails_with_its_code(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let mut ids = HashMap::new();
    let folders = [
        "txt", "md", "html", "pdf", "docx", "pptx", "xlsx", "csv", "epub", "json",
    ];
    // Converting and chunking are the same on either store, and embedding is most of the time:
    // PostgreSQL (production's store) gets every sample, the embedded store those under 100 KB.
    let every = matches!(backend, TestBackend::Postgres(_));
    let chosen = |path: &PathBuf| every || std::fs::metadata(path).unwrap().len() < 100_000;
    for path in folders.iter().flat_map(|f| samples(f)).filter(chosen) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let (status, body) = api.upload(&name, std::fs::read(&path).unwrap()).await;
        assert_eq!(
            (status, &body["status"], &body["filename"]),
            (201, &json!("PENDING"), &json!(name)),
            "{body}"
        );
        ids.insert(name, body["id"].as_str().unwrap().to_owned());
    }

    let documents = api.settle(Duration::from_secs(1200)).await;
    let expected_failures: HashMap<&str, &str> = [
        ("empty.txt", "TEXT_TOO_SHORT"),
        ("corrupt.pdf", "CORRUPT_FILE"),
        ("password-protected.pdf", "PASSWORD_PROTECTED"),
        ("crazyones-encrypted-256.pdf", "PASSWORD_PROTECTED"),
        ("libreoffice-writer-password.pdf", "PASSWORD_PROTECTED"),
        ("scanned-image.pdf", "NO_TEXT_LAYER"),
        ("imagemagick-images.pdf", "NO_TEXT_LAYER"),
        ("malformed.json", "CORRUPT_FILE"),
        ("no-slides.pptx", "TEXT_TOO_SHORT"),
        // 630,000 cells of text: more chunks than one document may make.
        ("aaa_large_string.xlsx", "FILE_TOO_LARGE"),
        // Test fixtures with a word or two, or none: too little text to index.
        ("empty.docx", "TEXT_TOO_SHORT"),
        ("comments.docx", "TEXT_TOO_SHORT"),
        ("simple-list.docx", "TEXT_TOO_SHORT"),
        ("strict-format.docx", "TEXT_TOO_SHORT"),
        ("tbl-having-tables.docx", "TEXT_TOO_SHORT"),
        ("text-box.docx", "TEXT_TOO_SHORT"),
        ("cht-chart-type.pptx", "TEXT_TOO_SHORT"),
        ("prs-notes.pptx", "TEXT_TOO_SHORT"),
        ("shp-groupshape.pptx", "TEXT_TOO_SHORT"),
    ]
    .into();
    assert_eq!(documents.len(), ids.len());
    for document in &documents {
        let name = document["filename"].as_str().unwrap();
        match expected_failures.get(name) {
            Some(code) => {
                assert_eq!(
                    (&document["status"], &document["failReason"]),
                    (&json!("FAILED"), &json!(code)),
                    "{document}"
                );
                assert!(
                    document["failMessage"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{document}"
                );
                let (status, body) = api
                    .get(&format!(
                        "/api/documents/{}/content",
                        document["id"].as_str().unwrap()
                    ))
                    .await;
                assert_eq!((status, &body["error"]), (409, &json!("NOT_READY")));
            }
            None => {
                assert_eq!(document["status"], "COMPLETED", "{document}");
                assert!(document["chunkCount"].as_i64().unwrap() > 0, "{document}");
            }
        }
    }

    // Words visible in the originals come back in the chunks, with their metadata.
    for (name, words) in [
        ("normal.txt", &["test"][..]),
        ("unicode.txt", &["世界"][..]),
        ("with-headers.md", &["Subsection 1.1"][..]),
        ("code-blocks.md", &["```"][..]),
        ("ch04.en.html", &["Authentication", "PAM"][..]),
        ("ch01.ja.html", &["Debian"][..]),
        ("R-intro.pdf", &["statistical", "graphics"][..]),
        ("multilang.pdf", &["Привет", "こんにちは", "مرحبا"][..]),
        ("maint-guide.ja.pdf", &["パッケージ"][..]),
        ("Seige_of_Vicksburg_Sample_OCR.pdf", &["Vicksburg"][..]),
        ("footnotes.docx", &["Ouch", "tachyon walks into a bar"][..]),
        (
            "hdr-header-footer.docx",
            &["Header for section-1", "Footer for section 1"][..],
        ),
        ("tables.docx", &["Top left | Top right", "Below"][..]),
        ("utf8-bom.docx", &["byte order mark"][..]),
        (
            "missing_rels_item.pptx",
            &["Presentation Title Text", "Subtitle Text"][..],
        ),
        ("tbl-cell.pptx", &["unladen swallows"][..]),
        ("google.xlsx", &["シート1", "DDDD"][..]),
        ("merged_cells.xlsx", &["Boo"][..]),
        ("profiles.xls", &["PROFIL", "P8.3"][..]),
        ("issue150.xlsx", &["Cycle"][..]),
        ("book_lock.xlsx", &["パスワード"][..]),
        ("smallpop.csv", &["Southborough", "population"][..]),
        ("uspop-latin1.csv", &["Õakman"][..]),
        ("strange.csv", &["Hit Man"][..]),
        ("developers-reference.epub", &["Debian", "maintainer"][..]),
        ("example.epub", &["rbook"][..]),
        ("valid.json", &["valid JSON content"][..]),
    ] {
        let Some(id) = ids.get(name) else { continue };
        let (status, content) = api
            .get(&format!("/api/documents/{id}/content?format=json"))
            .await;
        assert_eq!(status, 200, "{name}: {content}");
        let chunks = content["chunks"].as_array().unwrap();
        let text: String = chunks
            .iter()
            .map(|c| c["content"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        for word in words {
            assert!(text.contains(word), "{name}: no {word:?} in its chunks");
        }
        let markdown: String = content["processedContent"]
            .as_str()
            .unwrap()
            .chars()
            .collect();
        for chunk in chunks {
            let meta = &chunk["metadata"];
            assert!(
                meta["tokenCount"].as_i64().unwrap() <= 256,
                "{name}: {meta}"
            );
            let (start, end) = (
                meta["charStart"].as_u64().unwrap() as usize,
                meta["charEnd"].as_u64().unwrap() as usize,
            );
            let slice: String = markdown.chars().skip(start).take(end - start).collect();
            assert_eq!(
                slice,
                chunk["content"].as_str().unwrap(),
                "{name}: offsets point at the chunk's text"
            );
        }
    }
    if let Some(id) = ids.get("R-intro.pdf") {
        let (_, pdf) = api
            .get(&format!("/api/documents/{id}/content?format=json"))
            .await;
        let pages: Vec<i64> = pdf["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["metadata"]["page"].as_i64())
            .collect();
        assert_eq!(pages.first(), Some(&1));
        assert!(pages.iter().max().unwrap() >= &100, "R-intro has 113 pages");
    }
    let (_, md) = api
        .get(&format!(
            "/api/documents/{}/content?format=json",
            ids["with-headers.md"]
        ))
        .await;
    assert!(
        md["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["metadata"]["breadcrumbs"]
                == json!(["Main Title", "Section One", "Subsection 1.1"]))
    );
    let (status, markdown) = api
        .get(&format!(
            "/api/documents/{}/content",
            ids["with-headers.md"]
        ))
        .await;
    assert_eq!(status, 200);
    assert!(markdown.as_str().unwrap().starts_with("# Main Title"));

    // Every chunk is stored once, with a 384-dimension unit vector.
    let (rows, expected, dims, off_unit) = backend.chunk_census().await;
    assert_eq!((rows, dims, off_unit), (expected, 384, 0));
}

async fn duplicates_oversize_files_and_the_document_lifecycle(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let (server, client) = (&api.server, &api.client);
    let text =
        b"Hydrodynamic stability of laminar boundary layers decides where turbulence begins."
            .to_vec();

    let (status, first) = api.upload("notes.txt", text.clone()).await;
    assert_eq!(status, 201);
    let id = first["id"].as_str().unwrap().to_owned();
    let (status, duplicate) = api.upload("renamed.txt", text).await;
    assert_eq!(
        (status, &duplicate["error"], &duplicate["existingId"]),
        (409, &json!("DUPLICATE_FILE"), &json!(id))
    );

    // What a client announces for a 51 MiB file: the file plus its multipart framing.
    let big = oversized_upload_answer(server, 51 * 1024 * 1024 + 200).await;
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    assert!(big.contains(r#""error":"FILE_TOO_LARGE""#), "{big}");

    let (_, empty) = api.upload("empty.txt", Vec::new()).await;
    let empty_id = empty["id"].as_str().unwrap().to_owned();
    api.settle(Duration::from_secs(60)).await;
    let (_, doc) = api.get(&format!("/api/documents/{id}")).await;
    assert_eq!(
        (&doc["status"], &doc["chunkCount"]),
        (&json!("COMPLETED"), &json!(1))
    );

    // Retry: only FAILED documents, and they are processed again.
    let retry = |id: &str| {
        client
            .post(server.url(&format!("/api/documents/{id}/retry")))
            .header("x-api-key", KEY)
            .send()
    };
    let response = retry(&id).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "INVALID_STATUS"
    );
    let response = retry(&empty_id).await.unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"id": empty_id, "status": "PENDING"})
    );
    api.settle(Duration::from_secs(60)).await;
    let (_, again) = api.get(&format!("/api/documents/{empty_id}")).await;
    assert_eq!(
        (&again["status"], &again["failReason"]),
        (&json!("FAILED"), &json!("TEXT_TOO_SHORT"))
    );

    // Availability.
    let response = client
        .patch(server.url(&format!("/api/documents/{id}/availability")))
        .header("x-api-key", KEY)
        .json(&json!({"isActive": false}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (&body["id"], &body["isActive"]),
        (&json!(id), &json!(false))
    );

    // No deleting while processing; afterwards chunks and bytes go with the document.
    let uuid: uuid::Uuid = id.parse().unwrap();
    backend.set_status(uuid, "PROCESSING").await;
    let delete = || {
        client
            .delete(server.url(&format!("/api/documents/{id}")))
            .header("x-api-key", KEY)
            .send()
    };
    let response = delete().await.unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "CONFLICT");
    backend.set_status(uuid, "COMPLETED").await;
    let response = delete().await.unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"id": id, "deleted": true})
    );
    assert_eq!(backend.rows_of(uuid).await, (0, 0));
    assert_eq!(api.get(&format!("/api/documents/{id}")).await.0, 404);
    assert_eq!(delete().await.unwrap().status(), 404);
}
