//! Where the embedding model is, for tests of both crates (included with `#[path]`).

use std::{path::PathBuf, process::Command, sync::OnceLock};

/// The model folder: `EMBEDDING_MODEL_DIR`, or what `local/fetch-model` provides (fetching it once).
pub fn model_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var("EMBEDDING_MODEL_DIR").unwrap_or_else(|_| {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../local/fetch-model");
            let out = Command::new(script)
                .output()
                .expect("local/fetch-model runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).unwrap();
            stdout
                .trim()
                .trim_start_matches("export EMBEDDING_MODEL_DIR=")
                .to_owned()
        })
    })
}
