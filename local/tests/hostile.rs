//! Hostile files (`../shared/data/hostile`) over HTTP against the real services: each is refused at
//! upload with a 4xx, or ends FAILED with its code; none crashes the server or its worker, and the
//! 200 MiB zip bomb never swells the server's memory.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{TestBackend, api::Api, checkout, on_each_backend};

const MIB: u64 = 1024 * 1024;

/// A `/proc/<pid>/status` field, in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    kib * 1024
}

on_each_backend!(hostile_files_are_refused_or_fail_with_a_code_and_harm_nothing);

async fn hostile_files_are_refused_or_fail_with_a_code_and_harm_nothing(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let dir = checkout().join("../shared/data/hostile");

    // The bomb first and alone, so that the peak is its own: the peak so far is forgotten
    // (clear_refs 5), then the bomb is uploaded and processed, and the peak read.
    let pid = api.server.pid();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let baseline = memory(pid, "VmRSS");
    let bomb = std::fs::read(dir.join("bomb-200mb.docx")).unwrap();
    assert_eq!(api.upload("bomb-200mb.docx", bomb).await.0, 201);
    let bombed = api.settle(Duration::from_secs(120)).await;
    assert_eq!(
        (&bombed[0]["status"], &bombed[0]["failReason"]),
        (&json!("FAILED"), &json!("FILE_TOO_LARGE"))
    );
    let peak = memory(pid, "VmHWM");
    eprintln!(
        "server RSS around the bomb: baseline {} MiB, peak {} MiB",
        baseline / MIB,
        peak / MIB
    );
    assert!(
        peak < baseline + 256 * MIB,
        "peak RSS {} MiB, baseline {} MiB",
        peak / MIB,
        baseline / MIB
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
