//! The embedded default: `ragbase` with neither DATABASE_URL nor REDIS_URL serves from a data
//! folder, and a process killed mid-job finishes its documents when started again, without
//! duplicate chunks. Real model and documents; no PostgreSQL or Redis is given to the server.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Server, TestBackend, api::Api, checkout, eventually, run_ragbase};

const PROCESSING_LIMIT: Duration = Duration::from_secs(180);

async fn status(api: &Api, id: &str) -> Value {
    api.get(&format!("/api/documents/{id}")).await.1
}

#[tokio::test]
async fn a_killed_embedded_server_resumes_its_jobs_without_duplicates() {
    let backend = TestBackend::embedded();
    let mut env = backend.env();
    env.push(("API_KEY", support::api::KEY));
    // No command: what `cargo run` starts.
    let api = Api {
        server: Server::start(&[], &env).await,
        client: reqwest::Client::new(),
    };
    let first_line: Value = serde_json::from_str(&api.server.logs.lock().unwrap()[0]).unwrap();
    assert!(support::is_listening_line(&first_line), "{first_line}");
    let TestBackend::Embedded(folder) = &backend else {
        unreachable!()
    };
    assert_eq!(
        (
            &first_line["store"],
            &first_line["queue"],
            &first_line["data_dir"]
        ),
        (
            &json!("embedded"),
            &json!("embedded"),
            &json!(folder.path.to_str().unwrap())
        )
    );

    let documents = checkout().join("../shared/data/documents");
    let mut ids = Vec::new();
    for file in ["pdf/R-intro.pdf", "md/with-headers.md"] {
        let path = documents.join(file);
        let name = path.file_name().unwrap().to_str().unwrap();
        let (code, body) = api.upload(name, std::fs::read(&path).unwrap()).await;
        assert_eq!(code, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (pdf, markdown) = (&ids[0], &ids[1]);
    let processing = eventually(Duration::from_secs(30), || async {
        status(&api, pdf).await["status"] == "PROCESSING"
    })
    .await;
    assert!(processing, "the worker took the PDF");
    // Mid-embedding (R-intro takes tens of seconds), with the Markdown still queued behind it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status(&api, markdown).await["status"], "PENDING");
    let Api { mut server, client } = api;
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let api = Api {
        server: Server::start(&["serve"], &env).await,
        client,
    };
    let (ok, refused) = run_ragbase(&["serve"], &env).await;
    assert!(
        !ok && refused.contains("RAGBASE_DATA_DIR") && refused.contains("in use"),
        "a second process on the same folder: {refused}"
    );
    let settled = api.settle(PROCESSING_LIMIT).await;
    assert!(
        settled.iter().all(|d| d["status"] == "COMPLETED"),
        "{settled:#?}"
    );
    let (rows, expected, dims, _) = backend.chunk_census().await;
    assert_eq!((rows, dims), (expected, 384), "every chunk stored once");
    assert!(
        status(&api, pdf).await["chunkCount"].as_i64().unwrap() > 100,
        "R-intro has 113 pages"
    );

    for mode in ["semantic", "hybrid"] {
        let (code, reply) = api
            .send(
                Method::POST,
                "/api/query",
                &json!({"query": "least squares fitting of linear models", "topK": 5, "mode": mode}),
            )
            .await;
        assert_eq!(code, 200, "{reply}");
        let results = reply["results"].as_array().unwrap();
        assert_eq!(results.len(), 5, "{mode}: {reply}");
        assert_eq!(results[0]["documentId"], json!(pdf), "{mode}: {reply}");
        assert!(
            results
                .iter()
                .any(|r| r["content"].as_str().unwrap().contains("lsfit")),
            "{mode}: {reply}"
        );
    }
}
