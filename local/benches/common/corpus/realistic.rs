//! The realistic corpus: chunks recombined from real sentences, with vectors that agree with
//! their text (the normalised mean of their sentences' embeddings).

use std::{
    collections::{HashMap, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};

use ragbase::{
    convert::convert,
    domain::{blocks::BlockKind, formats::Format},
    ports::Embedder,
};
use unicode_segmentation::UnicodeSegmentation;

use super::{ChunkRow, DIMENSIONS, DocumentRow, Random, embed_all, kit, normalised};

/// Distinct sentences, their embeddings, and each source's sentences in reading order.
struct Library {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
    sources: Vec<Vec<usize>>,
}

/// Formats as a company's store holds them, out of 100 documents.
const FORMATS: [(Format, usize); 10] = [
    (Format::Pdf, 35),
    (Format::Docx, 20),
    (Format::Markdown, 10),
    (Format::Text, 8),
    (Format::Html, 10),
    (Format::Pptx, 6),
    (Format::Epub, 3),
    (Format::Xlsx, 3),
    (Format::Csv, 3),
    (Format::Json, 2),
];

pub(super) fn generate(
    chunks: usize,
    embedder: &dyn Embedder,
) -> (Vec<DocumentRow>, Box<dyn Iterator<Item = ChunkRow>>) {
    let library = library(embedder);
    let mut random = Random(chunks as u64);
    let (documents, sizes) = documents(&mut random, chunks);
    let owners: Vec<(usize, usize)> = sizes
        .into_iter()
        .flat_map(|(number, size)| (0..size).map(move |index| (number, index)))
        .collect();
    let rows = owners.into_iter().map(move |(number, index)| {
        let picked = pick_sentences(&library, &mut random);
        let text: Vec<&str> = picked
            .iter()
            .map(|&s| library.sentences[s].as_str())
            .collect();
        let mean = (0..DIMENSIONS)
            .map(|k| {
                picked
                    .iter()
                    .map(|&s| f64::from(library.vectors[s][k]))
                    .sum()
            })
            .collect();
        (number, index, text.join(" "), normalised(mean))
    });
    (documents, Box::new(rows))
}

/// Documents of 20–180 chunks (100 on average) until `chunks` are placed, 5% of them disabled;
/// beside every 50, one FAILED and one PENDING without chunks. Returns the rows and each
/// chunked document's (number, chunks).
fn documents(random: &mut Random, chunks: usize) -> (Vec<DocumentRow>, Vec<(usize, usize)>) {
    let (mut rows, mut sizes, mut placed) = (Vec::new(), Vec::new(), 0);
    while placed < chunks {
        let number = rows.len();
        if number % 50 == 49 {
            for status in ["FAILED", "PENDING"] {
                let number = rows.len();
                rows.push(DocumentRow {
                    number,
                    format: Format::Pdf,
                    status,
                    active: true,
                });
            }
            continue;
        }
        let size = (20 + random.below(161)).min(chunks - placed);
        let format = pick_format(random);
        let active = random.unit() >= 0.05;
        rows.push(DocumentRow {
            number,
            format,
            status: "COMPLETED",
            active,
        });
        sizes.push((number, size));
        placed += size;
    }
    (rows, sizes)
}

fn pick_format(random: &mut Random) -> Format {
    let mut share = random.below(100);
    for (format, weight) in FORMATS {
        if share < weight {
            return format;
        }
        share -= weight;
    }
    Format::Pdf
}

/// A run of 3–10 consecutive sentences from a random place; a third of the chunks splice a
/// second run from elsewhere onto the first half.
fn pick_sentences(library: &Library, random: &mut Random) -> Vec<usize> {
    let length = 3 + random.below(8);
    let run = |random: &mut Random, length: usize| {
        let source = &library.sources[random.below(library.sources.len())];
        let start = random.below(source.len());
        (0..length)
            .map(|k| source[(start + k) % source.len()])
            .collect::<Vec<_>>()
    };
    let mut picked = run(random, length);
    if random.below(3) == 0 {
        picked.truncate(length / 2 + 1);
        picked.extend(run(random, length - picked.len() + 1));
    }
    picked
}

fn library(embedder: &dyn Embedder) -> Library {
    let mut texts: Vec<String> = crate::common::cranfield_texts("corpus.jsonl");
    texts.extend(sample_document_texts());
    let (mut sentences, mut index, mut sources) = (Vec::new(), HashMap::new(), Vec::new());
    for text in &texts {
        // Cranfield's abstracts are lower case, with " . " between sentences, which Unicode's
        // rules do not take for a boundary: a line break makes it one.
        let text = text.replace(" . ", ".\n");
        let source: Vec<usize> = text
            .unicode_sentences()
            .map(str::trim)
            .filter(|s| (20..=600).contains(&s.len()) && s.split_whitespace().count() >= 3)
            .map(|s| {
                *index.entry(s.to_owned()).or_insert_with(|| {
                    sentences.push(s.to_owned());
                    sentences.len() - 1
                })
            })
            .collect();
        if !source.is_empty() {
            sources.push(source);
        }
    }
    let vectors = cached_embeddings(embedder, &sentences);
    eprintln!(
        "- library: {} distinct sentences from {} sources",
        sentences.len(),
        sources.len()
    );
    Library {
        sentences,
        vectors,
        sources,
    }
}

/// The prose of the sample documents (English ones, that convert), one text per document.
fn sample_document_texts() -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(kit("documents"))
        .unwrap()
        .flat_map(|dir| std::fs::read_dir(dir.unwrap().path()).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.to_string_lossy().contains(".ja."))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|path| {
            let format = Format::from_extension(path.extension()?.to_str()?)?;
            let blocks = convert(format, &std::fs::read(path).ok()?).ok()?;
            let prose: Vec<String> = blocks
                .into_iter()
                .filter(|b| matches!(b.kind, BlockKind::Paragraph | BlockKind::Heading(_)))
                .map(|b| b.text)
                .collect();
            Some(prose.join("\n"))
        })
        .collect()
}

/// Each distinct sentence embedded once, kept under `target/bench/` for later fills.
fn cached_embeddings(embedder: &dyn Embedder, sentences: &[String]) -> Vec<Vec<f32>> {
    let mut hasher = DefaultHasher::new();
    sentences.hash(&mut hasher);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../target/bench/sentences-{:016x}.f32",
        hasher.finish()
    ));
    if let Ok(bytes) = std::fs::read(&path) {
        let floats: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        return floats.chunks(DIMENSIONS).map(<[f32]>::to_vec).collect();
    }
    let vectors = embed_all(embedder, sentences);
    let bytes: Vec<u8> = vectors
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    vectors
}
