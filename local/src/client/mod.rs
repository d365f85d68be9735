//! The commands that talk to a running server (`ingest`, `query`), through its public HTTP API
//! like any other client.

pub mod ingest;
mod progress;
pub mod query;

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reqwest::{Method, RequestBuilder, StatusCode, multipart};
use serde::{Deserialize, de::DeserializeOwned};
use uuid::Uuid;

/// Where the server is, and the key it asks for.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// The server's address.
    #[arg(long, env = "RAGBASE_URL", default_value = "http://127.0.0.1:3000")]
    url: String,
}

/// An error answer: the code clients switch on, and its message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub error: String,
    pub message: String,
    pub existing_id: Option<Uuid>,
}

/// The fields of a document these commands read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentState {
    pub status: String,
    pub fail_reason: Option<String>,
    pub fail_message: Option<String>,
    pub chunk_count: Option<u64>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Client {
    /// The key is `RAGBASE_API_KEY`, else the first of the server's own `API_KEY` list.
    pub fn new(args: &ServerArgs) -> anyhow::Result<Self> {
        let key = std::env::var("RAGBASE_API_KEY")
            .ok()
            .or_else(|| std::env::var("API_KEY").ok())
            .and_then(|keys| keys.split(',').map(str::trim).next().map(str::to_owned))
            .filter(|key| !key.is_empty());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Self {
            http,
            base: args.url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.header("x-api-key", key),
            None => request,
        }
    }

    /// The answer's body when it is a success, else the server's refusal. `build` makes the
    /// request afresh for each attempt (see `send_retrying`).
    async fn answer<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> anyhow::Result<Result<T, (StatusCode, Refusal)>> {
        let response = self.send_retrying(build).await?;
        let status = response.status();
        let body = response.bytes().await?;
        if status.is_success() {
            return Ok(Ok(serde_json::from_slice(&body).with_context(|| {
                format!("the server's answer ({status}) is not what was expected")
            })?));
        }
        let refusal = serde_json::from_slice(&body).unwrap_or_else(|_| Refusal {
            error: format!("HTTP_{}", status.as_u16()),
            message: String::from_utf8_lossy(&body).into_owned(),
            existing_id: None,
        });
        Ok(Err((status, refusal)))
    }

    /// Sends the request, and again while the server says it is busy (429, 503), at most
    /// `RETRIES` times: after its `Retry-After` when it gives one, else after a growing pause.
    /// Built anew each time, as an upload's multipart body cannot be sent twice.
    async fn send_retrying(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        const RETRIES: u32 = 5;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let response = build()
                .send()
                .await
                .with_context(|| format!("cannot reach the server at {}", self.base))?;
            let busy = matches!(
                response.status(),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            if !busy || attempt > RETRIES {
                return Ok(response);
            }
            tokio::time::sleep(
                retry_after(&response).unwrap_or(Duration::from_millis(250 << attempt)),
            )
            .await;
        }
    }

    /// Uploads one file: its new document's id, or the server's refusal.
    pub async fn upload(
        &self,
        name: String,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Result<Uuid, (StatusCode, Refusal)>> {
        #[derive(Deserialize)]
        struct Accepted {
            id: Uuid,
        }
        // Shared, not copied, by each attempt's body.
        let (length, bytes) = (bytes.len() as u64, bytes::Bytes::from(bytes));
        let request = || {
            let file =
                multipart::Part::stream_with_length(bytes.clone(), length).file_name(name.clone());
            let form = multipart::Form::new().part("file", file);
            self.request(Method::POST, "/api/documents").multipart(form)
        };
        Ok(self.answer::<Accepted>(request).await?.map(|a| a.id))
    }

    pub async fn document(&self, id: Uuid) -> anyhow::Result<DocumentState> {
        let path = format!("/api/documents/{id}");
        self.answer(|| self.request(Method::GET, &path))
            .await?
            .map_err(refused)
    }

    /// `POST /api/query` with `body`: the server's answer as it sent it.
    pub async fn query(&self, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.answer(|| self.request(Method::POST, "/api/query").json(body))
            .await?
            .map_err(refused)
    }
}

/// The pause a busy server asks for, in whole seconds, at most a minute.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}

fn refused((status, refusal): (StatusCode, Refusal)) -> anyhow::Error {
    anyhow::anyhow!(
        "the server answered {status}: {} ({})",
        refusal.message,
        refusal.error
    )
}
