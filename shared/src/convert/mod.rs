//! Converters: the bytes of an upload to blocks of text. They run in a child process
//! (`sandbox`), so a hostile file can crash, hang or bloat only that child.

mod archive;
mod csv;
mod docx;
mod epub;
mod html;
mod json;
mod markdown;
mod ooxml;
mod pdf;
mod pptx;
pub mod sandbox;
mod tabular;
mod xlsx;
mod xml;

use crate::domain::{
    blocks::{Block, BlockKind},
    failure::Failure,
    formats::Format,
    text::decode,
};

pub fn convert(format: Format, bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    match format {
        Format::Pdf => pdf::convert(bytes),
        Format::Html => Ok(html::convert(&decode(bytes))),
        Format::Markdown => Ok(markdown::convert(&decode(bytes))),
        Format::Text => Ok(paragraphs(&decode(bytes), None)),
        Format::Docx => docx::convert(bytes),
        Format::Pptx => pptx::convert(bytes),
        Format::Xlsx => xlsx::convert(bytes),
        Format::Csv => csv::convert(bytes),
        Format::Epub => epub::convert(bytes),
        Format::Json => json::convert(bytes),
    }
}

/// Plain text as paragraphs: blank lines separate them.
fn paragraphs(text: &str, page: Option<u32>) -> Vec<Block> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Block::new(BlockKind::Paragraph, p, page))
        .collect()
}

/// What the converters' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use crate::domain::blocks::{Block, BlockKind};

    /// A file of the team's kit, by its path under `../shared/data`.
    pub fn sample(path: &str) -> Vec<u8> {
        let path = format!("{}/../../shared/data/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub fn view(blocks: &[Block]) -> Vec<(BlockKind, &str)> {
        blocks.iter().map(|b| (b.kind, b.text.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_paragraphs() {
        let blocks = convert(
            Format::Text,
            b"First line\nstill first.\r\n\r\nSecond.\n\n\n",
        )
        .unwrap();
        let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["First line\nstill first.", "Second."]);
    }

    #[test]
    fn every_format_has_a_converter_that_refuses_garbage_cleanly() {
        for format in [
            Format::Docx,
            Format::Pptx,
            Format::Xlsx,
            Format::Epub,
            Format::Json,
        ] {
            assert_eq!(
                convert(format, b"PK\x03\x04 garbage").unwrap_err().code,
                crate::domain::failure::FailureCode::CorruptFile,
                "{format:?}"
            );
        }
    }
}
