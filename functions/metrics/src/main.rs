//! `GET /metrics`: what one function can honestly report, the store's readiness and the queue's
//! sizes read at scrape time (request metrics go to CloudWatch as EMF log lines).

use ragbase::{http::Routes, serverless};

#[tokio::main]
async fn main() -> Result<(), serverless::Error> {
    serverless::serve(Routes::Metrics, false).await
}
