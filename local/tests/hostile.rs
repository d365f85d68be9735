//! Hostile files (`../shared/data/hostile`) over HTTP against the real services: each is refused at
//! upload with a 4xx, or ends FAILED with its code; none crashes the server or its worker, and the
//! 200 MiB zip bomb never swells the server's memory. Then files made here to cost a reader
//! time and memory: each settles within its budget, and the server's memory grows by at most
//! 256 MiB for any of them.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestBackend, api::Api, checkout, on_each_backend};

const MIB: u64 = 1024 * 1024;

on_each_backend!(
    hostile_files_are_refused_or_fail_with_a_code_and_harm_nothing,
    files_that_multiply_their_text_settle_in_time_and_bounded_memory,
);

/// Uploads one file alone and waits up to `budget` for it to settle, while the server's memory
/// grows by at most 256 MiB. Returns the document.
async fn alone(api: &Api, name: &str, bytes: Vec<u8>, budget: Duration) -> Value {
    let server = &api.server;
    server.forget_peak();
    let baseline = server.memory("VmRSS");
    let started = std::time::Instant::now();
    let (status, body) = api.upload(name, bytes).await;
    assert_eq!(status, 201, "{name}: {body}");
    let documents = api.settle(budget).await;
    let peak = server.memory("VmHWM");
    let document = documents
        .into_iter()
        .find(|d| d["id"] == body["id"])
        .unwrap();
    eprintln!(
        "{name}: {} {} in {:.1} s; RSS {} MiB, peak {} MiB",
        document["status"],
        document["failReason"],
        started.elapsed().as_secs_f64(),
        baseline / MIB,
        peak / MIB
    );
    assert!(
        peak < baseline + 256 * MIB,
        "{name}: peak RSS {} MiB, baseline {} MiB",
        peak / MIB,
        baseline / MIB
    );
    document
}

fn outcome(document: &Value) -> (&str, &str) {
    let field = |name: &str| document[name].as_str().unwrap_or("");
    (field("status"), field("failReason"))
}

/// 13 columns named by 4,000 characters each, 20,000 rows: 572 KB that the row sentences
/// ("name: value") used to turn into a gigabyte of text.
fn wide_header_csv() -> Vec<u8> {
    let header: Vec<String> = (0..13)
        .map(|c| format!("{c}{}", "header".repeat(666)))
        .collect();
    let mut csv = header.join(",");
    for row in 0..20_000 {
        csv.push('\n');
        csv.push_str(
            &(0..13)
                .map(|c| (row * c % 97).to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    csv.into_bytes()
}

async fn files_that_multiply_their_text_settle_in_time_and_bounded_memory(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let budget = Duration::from_secs(120);

    let wide = alone(&api, "wide-headers.csv", wide_header_csv(), budget).await;
    assert_eq!(outcome(&wide), ("FAILED", "FILE_TOO_LARGE"), "{wide}");

    // One 30 MB "word", which the tokenizer would count as one token.
    let word = "w".repeat(30 << 20).into_bytes();
    let word = alone(&api, "one-word.txt", word, budget).await;
    assert_eq!(outcome(&word), ("FAILED", "FILE_TOO_LARGE"), "{word}");

    // A 200 KB word inside prose is kept, cut into chunks of at most 4 KiB.
    let prose = format!(
        "A paragraph of ordinary words comes first.\n\n{} and then more words.",
        "q".repeat(200_000)
    );
    let kept = alone(&api, "long-word.txt", prose.into_bytes(), budget).await;
    assert_eq!(outcome(&kept), ("COMPLETED", ""), "{kept}");
    let id = kept["id"].as_str().unwrap();
    let (_, content) = api
        .get(&format!("/api/documents/{id}/content?format=json"))
        .await;
    let largest = content["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap().len())
        .max()
        .unwrap();
    assert!(largest <= 4096, "a chunk of {largest} bytes");

    // 300,000 script and style tags around a paragraph: read in one pass.
    let storm = format!(
        "<p>A paragraph of ordinary words before the storm of tags.</p>{}",
        "<script></script><style></style>".repeat(150_000)
    );
    let stormed = alone(&api, "storm.html", storm.into_bytes(), budget).await;
    assert_eq!(outcome(&stormed), ("COMPLETED", ""), "{stormed}");
    assert_eq!(api.get("/health").await.0, 200);
}

async fn hostile_files_are_refused_or_fail_with_a_code_and_harm_nothing(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let dir = checkout().join("../shared/data/hostile");

    // The bomb first and alone, so that the peak is its own.
    let bomb = std::fs::read(dir.join("bomb-200mb.docx")).unwrap();
    let bombed = alone(&api, "bomb-200mb.docx", bomb, Duration::from_secs(120)).await;
    assert_eq!(
        (&bombed["status"], &bombed["failReason"]),
        (&json!("FAILED"), &json!("FILE_TOO_LARGE"))
    );

    // Then everything else.
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // What the converter fuzzer found in calamine 0.38's legacy XLS reader: a formula record
    // that makes it index past its buffer (xls.rs:1531) and panic, and records that make it ask
    // for more than 2 GiB. The sandbox must contain both.
    for found in ["xls-formula-panic.xls", "xls-memory-hog.xls"] {
        files.push(checkout().join("local/tests/fixtures").join(found));
    }
    api.server.forget_peak();
    let baseline = api.server.memory("VmRSS");
    let mut refused = Vec::new();
    for path in files.iter().filter(|p| !p.ends_with("bomb-200mb.docx")) {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (status, body) = api.upload(name, std::fs::read(path).unwrap()).await;
        match status {
            201 => assert_eq!(body["status"], "PENDING", "{name}: {body}"),
            400..=499 => {
                assert!(
                    body["error"].as_str().is_some_and(|e| !e.is_empty())
                        && body["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{name}: {body}"
                );
                refused.push((name.to_owned(), body["error"].as_str().unwrap().to_owned()));
            }
            _ => panic!("{name}: {status} {body}"),
        }
    }
    let documents = api.settle(Duration::from_secs(600)).await;
    assert_eq!(documents.len() + refused.len(), files.len());
    let peak = api.server.memory("VmHWM");
    eprintln!(
        "the other hostile files: RSS {} MiB, peak {} MiB",
        baseline / MIB,
        peak / MIB
    );
    assert!(peak < baseline + 256 * MIB, "peak {} MiB", peak / MIB);

    let outcome = |name: &str| {
        documents
            .iter()
            .find(|d| d["filename"] == name)
            .map(|d| (d["status"].clone(), d["failReason"].clone()))
    };
    for document in &documents {
        let name = document["filename"].as_str().unwrap();
        match document["status"].as_str().unwrap() {
            "COMPLETED" => assert!(document["chunkCount"].as_i64().unwrap() > 0, "{name}"),
            // A crash of our own would show as INTERNAL_ERROR: every failure here is the file's.
            "FAILED" => assert!(
                document["failReason"]
                    .as_str()
                    .is_some_and(|code| code != "INTERNAL_ERROR"),
                "{document}"
            ),
            other => panic!("{name} ended {other}"),
        }
    }
    let failed = |code: &str| Some((json!("FAILED"), json!(code)));
    assert_eq!(outcome("bomb-200mb.docx"), failed("FILE_TOO_LARGE"));
    assert_eq!(outcome("truncated.docx"), failed("CORRUPT_FILE"));
    assert_eq!(outcome("random-bytes.pdf"), failed("CORRUPT_FILE"));
    assert_eq!(outcome("header-only.pdf"), failed("CORRUPT_FILE"));
    assert_eq!(outcome("xls-formula-panic.xls"), failed("CORRUPT_FILE"));
    assert_eq!(outcome("xls-memory-hog.xls"), failed("CORRUPT_FILE"));
    // Content beats the name: the PDF called .docx is read as the PDF it is.
    assert_eq!(
        outcome("really-a-pdf.docx"),
        Some((json!("COMPLETED"), json!(null)))
    );
    // 100,000 nested <div>s around one word: parsed without overflowing, and too little text.
    assert_eq!(outcome("deep-nesting.html"), failed("TEXT_TOO_SHORT"));
    for readable in ["utf16le-bom.txt", "bom-crlf.csv"] {
        assert_eq!(
            outcome(readable).map(|(status, _)| status),
            Some(json!("COMPLETED")),
            "{readable}"
        );
    }
    // A zip that names itself PDF, or nothing, is refused rather than guessed at.
    for name in ["really-a-docx.pdf", "no-extension"] {
        assert!(
            refused.contains(&(name.to_owned(), "INVALID_FORMAT".to_owned())),
            "{name} was not refused: {refused:?}"
        );
    }
    // Empty files fail (the first) or are duplicates of it (the same zero bytes).
    for name in ["empty.docx", "empty.pdf", "empty.txt"] {
        assert!(
            refused.iter().any(|(refused, _)| refused == name)
                || outcome(name).is_some_and(|(status, _)| status == "FAILED"),
            "{name}: {:?}",
            outcome(name)
        );
    }

    // Still serving.
    let (status, _) = api.get("/api/documents?limit=1").await;
    assert_eq!(status, 200);
}
