//! The SQS-triggered worker: converts, chunks and embeds each queued document, and reports only
//! the messages to retry (`batchItemFailures`).

use ragbase::{convert::sandbox, serverless};

fn main() -> Result<(), serverless::Error> {
    // Conversions run in children of this executable, under their own limits.
    if let Some(code) = sandbox::run_child_if_asked() {
        std::process::exit(code);
    }
    tokio::runtime::Runtime::new()?.block_on(serverless::run_worker())
}
