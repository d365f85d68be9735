//! `POST /api/documents`: stores the file and queues its job on SQS.

use ragbase::{http::Routes, serverless};

#[tokio::main]
async fn main() -> Result<(), serverless::Error> {
    serverless::serve(Routes::Upload, false).await
}
