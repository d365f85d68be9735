//! `POST /api/query`: embeds the question (the model is loaded at init) and searches.

use ragbase::{http::Routes, serverless};

#[tokio::main]
async fn main() -> Result<(), serverless::Error> {
    serverless::serve(Routes::Search, true).await
}
