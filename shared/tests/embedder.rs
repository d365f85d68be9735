//! The real model through tract matches reference vectors from onnxruntime (and an independent
//! NumPy forward pass; see local/model/reference_vectors.py) to cosine ≥ 0.9999.

#[path = "common/model.rs"]
mod model;

use std::path::Path;

use ragbase::{adapters::onnx_embedder::OnnxEmbedder, ports::Embedder};
use serde_json::Value;

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum()
}

fn reference() -> Vec<(String, usize, Vec<f64>)> {
    let raw = include_str!("fixtures/reference_embeddings.json");
    let fixture: Value = serde_json::from_str(raw).unwrap();
    fixture["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let vector = s["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            (
                s["text"].as_str().unwrap().to_owned(),
                s["tokens"].as_u64().unwrap() as usize,
                vector,
            )
        })
        .collect()
}

#[test]
fn matches_the_reference_vectors_each_padded_to_its_plan_length() {
    let embedder = OnnxEmbedder::load(Path::new(model::model_dir()), 2).unwrap();
    assert_eq!((embedder.dimensions(), embedder.max_tokens()), (384, 256));
    let reference = reference();
    assert_eq!(reference.len(), 20);
    let texts: Vec<&str> = reference.iter().map(|(t, _, _)| t.as_str()).collect();

    let vectors = embedder.embed(&texts).unwrap();
    for ((text, tokens, expected), got) in reference.iter().zip(&vectors) {
        let similarity = cosine(got, expected);
        assert!(similarity >= 0.9999, "{text:?}: cosine {similarity}");
        let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "{text:?} not unit length: {norm}"
        );
        assert_eq!(embedder.count_tokens(text).min(256), *tokens, "{text:?}");
    }
}

#[test]
fn long_texts_are_counted_whole_and_embedded_truncated() {
    let embedder = OnnxEmbedder::load(Path::new(model::model_dir()), 1).unwrap();
    let long = reference()
        .into_iter()
        .find(|(_, tokens, _)| *tokens == 256)
        .expect("a truncated sentence");
    assert!(embedder.count_tokens(&long.0) > 256);
    assert!(cosine(&embedder.embed(&[&long.0]).unwrap()[0], &long.2) >= 0.9999);
}

#[test]
fn a_missing_model_is_a_clear_start_up_error() {
    let empty = std::env::temp_dir().join("ragbase-no-model");
    std::fs::create_dir_all(&empty).unwrap();
    let message = OnnxEmbedder::load(&empty, 1).err().unwrap().to_string();
    assert!(
        message.contains("EMBEDDING_MODEL_DIR") && message.contains("local/fetch-model"),
        "{message}"
    );

    let corrupt =
        std::env::temp_dir().join(format!("ragbase-corrupt-model-{}", std::process::id()));
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("model.onnx"), b"not a model").unwrap();
    std::fs::copy(
        Path::new(model::model_dir()).join("tokenizer.json"),
        corrupt.join("tokenizer.json"),
    )
    .unwrap();
    let message = OnnxEmbedder::load(&corrupt, 1).err().unwrap().to_string();
    assert!(message.contains("not a usable ONNX model"), "{message}");
    std::fs::remove_dir_all(corrupt).unwrap();
}
