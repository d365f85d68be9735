//! Converters: the bytes of an upload to blocks of text. They run in a child process
//! (`sandbox`), so a hostile file can crash, hang or bloat only that child.

mod html;
mod markdown;
mod pdf;
pub mod sandbox;

use crate::domain::{
    blocks::{Block, BlockKind},
    failure::{Failure, FailureCode},
    formats::Format,
    text::decode,
};

pub fn convert(format: Format, bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    match format {
        Format::Pdf => pdf::convert(bytes),
        Format::Html => Ok(html::convert(&decode(bytes))),
        Format::Markdown => Ok(markdown::convert(&decode(bytes))),
        Format::Text => Ok(paragraphs(&decode(bytes), None)),
        other => Err(Failure::new(
            FailureCode::UnsupportedFormat,
            format!(
                "{} files are not supported yet",
                other.as_str().to_uppercase()
            ),
        )),
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
    fn formats_without_a_converter_fail_clearly() {
        assert_eq!(
            convert(Format::Docx, b"PK").unwrap_err().code,
            FailureCode::UnsupportedFormat
        );
    }
}
