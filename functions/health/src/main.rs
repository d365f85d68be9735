//! `GET /health`, `/ready` and `/live`.

use ragbase::{http::Routes, serverless};

#[tokio::main]
async fn main() -> Result<(), serverless::Error> {
    serverless::serve(Routes::Health, false).await
}
