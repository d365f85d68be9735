//! A keyed HTTP client for a `ragbase serve` with a store of its own and an in-process worker.

use std::time::{Duration, Instant};

use reqwest::{Client, Method, multipart};
use serde_json::Value;

use super::{Server, TestBackend};

pub const KEY: &str = "integration-test-key-0123456789";

pub struct Api {
    pub server: Server,
    pub client: Client,
}

impl Api {
    /// `ragbase serve --migrate` on `backend` with the API key, plus `env`.
    pub async fn start(backend: &TestBackend, env: &[(&str, &str)]) -> Self {
        let mut all = backend.env();
        all.push(("API_KEY", KEY));
        all.extend_from_slice(env);
        Self {
            server: Server::start(&["serve", "--migrate"], &all).await,
            client: Client::new(),
        }
    }

    /// Migrates `backend`'s store, so a test can fill it before `serve_stored`.
    pub async fn migrate(backend: &TestBackend) {
        assert!(super::run_ragbase(&["migrate"], &backend.env()).await.0);
    }

    /// `ragbase serve --no-worker` on `backend` with the API key: the store as the test left it.
    pub async fn serve_stored(backend: &TestBackend) -> Self {
        let mut env = backend.env();
        env.push(("API_KEY", KEY));
        Self {
            server: Server::start(&["serve", "--no-worker"], &env).await,
            client: Client::new(),
        }
    }

    async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.header("x-api-key", KEY).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> (u16, Value) {
        let form = multipart::Form::new().part(
            "file",
            multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
        let request = self
            .client
            .post(self.server.url("/api/documents"))
            .multipart(form);
        Self::answer(request).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        Self::answer(self.client.get(self.server.url(path))).await
    }

    /// A request with a JSON body.
    pub async fn send(&self, method: Method, path: &str, body: &Value) -> (u16, Value) {
        Self::answer(
            self.client
                .request(method, self.server.url(path))
                .json(body),
        )
        .await
    }

    /// Waits until no document is PENDING or PROCESSING; returns the first 100 documents.
    pub async fn settle(&self, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let (_, page) = self.get("/api/documents?limit=100").await;
            let documents = page["documents"].as_array().cloned().unwrap_or_default();
            if page["counts"]["pending"] == 0 && page["counts"]["processing"] == 0 {
                return documents;
            }
            assert!(
                Instant::now() < deadline,
                "still processing after {limit:?}: {documents:#?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
