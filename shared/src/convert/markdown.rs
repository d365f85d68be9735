//! Markdown by its structure: headings keep their levels, code and tables stay whole.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::domain::blocks::{Block, BlockKind};

pub fn convert(source: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut text = String::new();
    let mut row: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    let mut list_depth = 0usize;
    let flush = |blocks: &mut Vec<Block>, text: &mut String, kind: BlockKind| {
        let body = std::mem::take(text);
        if !body.trim().is_empty() {
            blocks.push(Block::new(kind, body.trim_end(), None));
        }
    };
    for event in Parser::new_ext(
        source,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Start(Tag::Heading { .. } | Tag::CodeBlock(_) | Tag::Table(_)) => {
                flush(&mut blocks, &mut text, BlockKind::Paragraph);
            }
            Event::Start(Tag::Item) => {
                flush(&mut blocks, &mut text, BlockKind::Paragraph);
                text.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                text.push_str("- ");
            }
            Event::Start(Tag::List(_)) => list_depth += 1,
            Event::End(TagEnd::List(_)) => list_depth -= 1,
            Event::End(TagEnd::Heading(level)) => {
                flush(&mut blocks, &mut text, BlockKind::Heading(level as u8))
            }
            Event::End(TagEnd::CodeBlock) => flush(&mut blocks, &mut text, BlockKind::Code),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_)) => {
                flush(&mut blocks, &mut text, BlockKind::Paragraph);
            }
            Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut text).trim().to_owned()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                rows.push(std::mem::take(&mut row).join(" | "))
            }
            Event::End(TagEnd::Table) => {
                blocks.push(Block::new(
                    BlockKind::Table,
                    std::mem::take(&mut rows).join("\n"),
                    None,
                ));
            }
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak => text.push(' '),
            Event::HardBreak => text.push('\n'),
            _ => {}
        }
    }
    flush(&mut blocks, &mut text, BlockKind::Paragraph);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_is_kept() {
        let source = "# Title\n\nIntro *text*\nwraps.\n\n## Part\n\n- one\n- two\n\n```rust\nfn x() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
        let blocks = convert(source);
        let view: Vec<(BlockKind, &str)> =
            blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            view,
            [
                (BlockKind::Heading(1), "Title"),
                (BlockKind::Paragraph, "Intro text wraps."),
                (BlockKind::Heading(2), "Part"),
                (BlockKind::Paragraph, "- one"),
                (BlockKind::Paragraph, "- two"),
                (BlockKind::Code, "fn x() {}"),
                (BlockKind::Table, "a | b\n1 | 2"),
            ]
        );
    }
}
