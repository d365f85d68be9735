//! The scheduled reconciler: queues again the documents whose job was lost, and fails those
//! whose every attempt crashed or timed out.

use ragbase::serverless;

#[tokio::main]
async fn main() -> Result<(), serverless::Error> {
    serverless::run_reconciler().await
}
