//! A converted document: an ordered list of headings, paragraphs, code and tables, each with its
//! page. Converters produce it; the chunker reads it; it renders as the document's Markdown.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "level")]
pub enum BlockKind {
    /// Level 1 (top) to 6.
    Heading(u8),
    Paragraph,
    /// Kept verbatim; split by lines, never by sentences.
    Code,
    /// One row a line; split by rows.
    Table,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    #[serde(flatten)]
    pub kind: BlockKind,
    pub text: String,
    /// 1-based page, where the format has pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

impl Block {
    pub fn new(kind: BlockKind, text: impl Into<String>, page: Option<u32>) -> Self {
        Self {
            kind,
            text: text.into(),
            page,
        }
    }

    /// How the block reads in the document's Markdown.
    pub fn markdown(&self) -> String {
        match self.kind {
            BlockKind::Heading(level) => format!(
                "{} {}",
                "#".repeat(usize::from(level.clamp(1, 6))),
                self.text
            ),
            BlockKind::Code => format!("```\n{}\n```", self.text),
            BlockKind::Paragraph | BlockKind::Table => self.text.clone(),
        }
    }
}
