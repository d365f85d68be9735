//! `ragbase ingest` and `ragbase query` against a running server, as a user runs them: a folder of
//! the sample documents with a duplicate, hostile files and files that are not documents.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{
    TempFolder, TestBackend,
    api::{Api, KEY},
    checkout, run_ragbase,
};

/// A folder as people have them: documents at two depths, the same text twice, a corrupt PDF, a
/// "PDF" of random bytes (taken at its name, then failed), and files the walk skips (no supported extension, hidden).
fn sample_folder() -> TempFolder {
    let folder = TempFolder::new("ingest");
    let samples = checkout().join("../shared/data");
    let copies = [
        ("documents/md/with-headers.md", "with-headers.md"),
        ("documents/txt/normal.txt", "normal.txt"),
        ("documents/json/valid.json", "nested/valid.json"),
        ("documents/txt/normal.txt", "nested/normal-again.txt"),
        ("documents/pdf/corrupt.pdf", "corrupt.pdf"),
        ("hostile/random-bytes.pdf", "nested/random-bytes.pdf"),
        ("documents/txt/normal.txt", "notes.bak"),
        ("documents/md/with-headers.md", ".hidden.md"),
    ];
    for (from, to) in copies {
        let to = folder.path.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(samples.join(from), to).unwrap();
    }
    folder
}

fn client_env(api: &Api) -> [(&'static str, &str); 2] {
    [
        ("RAGBASE_URL", api.server.base.as_str()),
        ("RAGBASE_API_KEY", KEY),
    ]
}

fn failure_line<'a>(out: &'a str, file: &str) -> &'a str {
    out.lines()
        .find(|line| line.trim_start().starts_with(&file.to_string()))
        .unwrap_or_else(|| panic!("{file} is listed: {out}"))
}

#[tokio::test]
async fn ingesting_a_folder_says_what_became_of_each_file_and_fails_if_any_did() {
    // Kept to the end: dropping it removes the store's folder.
    let backend = TestBackend::embedded();
    let api = Api::start(&backend, &[]).await;
    let folder = sample_folder();
    let path = folder.path.to_str().unwrap();
    let (ok, out) = run_ragbase(&["ingest", path, "--wait"], &client_env(&api)).await;
    assert!(!ok, "two files failed: {out}");
    assert!(
        out.contains("6 files: 3 ingested, 1 already ingested, 2 failed ("),
        "{out}"
    );
    let corrupt = Path::new(path).join("corrupt.pdf");
    assert!(
        failure_line(&out, corrupt.to_str().unwrap()).contains(": CORRUPT_FILE: "),
        "{out}"
    );
    let random = Path::new(path).join("nested/random-bytes.pdf");
    assert!(
        failure_line(&out, random.to_str().unwrap()).contains(": CORRUPT_FILE: "),
        "{out}"
    );
    // Not a terminal: plain progress lines, for uploads and then processing.
    assert!(
        out.contains("uploading: ") && out.contains("processing: "),
        "{out}"
    );
    assert!(out.contains("ragbase: 2 of 6 files failed"), "{out}");
    let (_, listed) = api.get("/api/documents").await;
    assert_eq!(listed["counts"]["completed"], 3, "{listed}");
    assert_eq!(listed["counts"]["failed"], 2, "{listed}");

    // Again: nothing is new, and the corrupt file is still reported with its code.
    let (ok, again) = run_ragbase(&["ingest", path, "--wait"], &client_env(&api)).await;
    assert!(!ok);
    assert!(
        again.contains("6 files: 0 ingested, 4 already ingested, 2 failed"),
        "{again}"
    );
    assert!(
        failure_line(&again, corrupt.to_str().unwrap()).contains("CORRUPT_FILE"),
        "{again}"
    );

    // One good file on its own: success, and without --wait only "uploaded".
    let single = folder.path.join("single.md");
    std::fs::write(
        &single,
        "# Pumps\n\nThe pump needs priming before its first start. ".repeat(5),
    )
    .unwrap();
    let (ok, out) = run_ragbase(&["ingest", single.to_str().unwrap()], &client_env(&api)).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("1 files: 1 uploaded, 0 already ingested, 0 failed"),
        "{out}"
    );

    let question = "How does the chunker split markdown structure?";
    let (ok, out) = run_ragbase(
        &[
            "query", question, "--mode", "hybrid", "--top-k", "3", "--json",
        ],
        &client_env(&api),
    )
    .await;
    assert!(ok, "{out}");
    let answer: Value = serde_json::from_str(&out).expect("--json prints JSON only");
    assert_eq!(answer["mode"], "hybrid");
    assert_eq!(
        answer["results"][0]["filename"], "with-headers.md",
        "{answer}"
    );
    assert!(answer["results"].as_array().unwrap().len() <= 3);

    let (ok, out) = run_ragbase(&["query", question], &client_env(&api)).await;
    assert!(ok, "{out}");
    assert!(out.starts_with("1. with-headers.md · "), "{out}");
}

#[tokio::test]
async fn the_commands_say_why_the_server_refused_or_could_not_be_reached() {
    // Kept to the end: dropping it removes the store's folder.
    let backend = TestBackend::embedded();
    let api = Api::start(&backend, &[]).await;
    let keyless = [("RAGBASE_URL", api.server.base.as_str())];
    let (ok, out) = run_ragbase(&["query", "anything"], &keyless).await;
    assert!(!ok);
    assert!(out.contains("401") && out.contains("UNAUTHORIZED"), "{out}");

    let nowhere = [("RAGBASE_URL", "http://127.0.0.1:1")];
    let sample = checkout().join("../shared/data/documents/txt/normal.txt");
    let (ok, out) = run_ragbase(&["ingest", sample.to_str().unwrap()], &nowhere).await;
    assert!(!ok);
    assert!(
        out.contains("cannot reach the server at http://127.0.0.1:1"),
        "{out}"
    );

    let (ok, out) = run_ragbase(&["ingest", "/no/such/folder"], &keyless).await;
    assert!(!ok);
    assert!(out.contains("/no/such/folder"), "{out}");
}

#[tokio::test]
async fn a_folder_larger_than_the_rate_limit_is_uploaded_whole_after_the_servers_pauses() {
    // Kept to the end: dropping it removes the store's folder.
    let backend = TestBackend::embedded();
    let limit = [("RATE_LIMIT_MAX", "3"), ("RATE_LIMIT_WINDOW_MS", "1000")];
    let api = Api::start(&backend, &limit).await;
    let folder = TempFolder::new("rate-limited");
    for n in 0..8 {
        let text = format!("# Valve {n}\n\nValve {n} closes when the pressure drops. ").repeat(5);
        std::fs::write(folder.path.join(format!("valve-{n}.md")), text).unwrap();
    }
    // Uploads beyond three a second are answered 429 with a Retry-After; each is sent again.
    let path = folder.path.to_str().unwrap();
    let (ok, out) = run_ragbase(&["ingest", path, "--wait"], &client_env(&api)).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("8 files: 8 ingested, 0 already ingested, 0 failed"),
        "{out}"
    );
    // Off a terminal, each stage ends on a plain line with its whole count.
    assert!(out.contains("processing: 8 of 8 documents"), "{out}");
}
