//! The document routes: list, get, content, delete, retry, availability.

use ragbase::{http::Routes, serverless};

#[tokio::main]
async fn main() -> Result<(), serverless::Error> {
    serverless::serve(Routes::Documents, false).await
}
