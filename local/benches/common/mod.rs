//! What the benchmarks share: the Cranfield collection beside the checkout.

use std::path::PathBuf;

/// The `text` of every record of one of `../shared/data/cranfield`'s JSONL files.
pub fn cranfield_texts(file: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/cranfield")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["text"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}
