//! HTML to blocks: headings, paragraphs, lists, code and tables; navigation, scripts, styles and
//! other page chrome are dropped.

use scraper::{Html, Node};

use crate::domain::blocks::{Block, BlockKind};

/// Browsers stop nesting around here; deeper tags are dropped before parsing, because the HTML5
/// tree builder's time grows with the square of the depth.
const MAX_DEPTH: usize = 512;

/// Subtrees that are page furniture, not content.
const SKIPPED: &[&str] = &[
    "head", "nav", "script", "style", "header", "footer", "aside", "noscript", "template", "svg",
    "form", "button",
];
/// Elements that end the current paragraph.
const BLOCK_LEVEL: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "br",
    "hr",
    "figure",
    "figcaption",
    "address",
    "caption",
];

pub fn convert(source: &str) -> Vec<Block> {
    let document = Html::parse_document(&limit_depth(source));
    let mut out = Walker::default();
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in document.tree.root().traverse() {
        match edge {
            ego_tree::iter::Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Element(e) if SKIPPED.contains(&e.name()) => skipping = Some(node.id()),
                    Node::Element(e) => out.open(e.name()),
                    Node::Text(t) => out.text(t),
                    _ => {}
                }
            }
            ego_tree::iter::Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                } else if let (None, Node::Element(e)) = (skipping, node.value()) {
                    out.close(e.name());
                }
            }
        }
    }
    out.flush();
    out.blocks
}

#[derive(Default)]
struct Walker {
    blocks: Vec<Block>,
    text: String,
    preformatted: usize,
    row: Vec<String>,
    rows: Vec<String>,
    tables: usize,
}

impl Walker {
    fn open(&mut self, name: &str) {
        match name {
            "pre" => {
                self.flush();
                self.preformatted += 1;
            }
            "table" => {
                self.flush();
                self.tables += 1;
            }
            "li" => {
                self.flush();
                self.text.push_str("- ");
            }
            n if heading_level(n).is_some() || BLOCK_LEVEL.contains(&n) => self.flush(),
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        if let Some(level) = heading_level(name) {
            self.emit(BlockKind::Heading(level));
            return;
        }
        match name {
            "pre" => {
                self.preformatted = self.preformatted.saturating_sub(1);
                self.emit(BlockKind::Code);
            }
            "td" | "th" if self.tables > 0 => {
                let cell = collapse(&std::mem::take(&mut self.text));
                self.row.push(cell);
            }
            "tr" if self.tables > 0 => {
                let row = std::mem::take(&mut self.row);
                if row.iter().any(|c| !c.is_empty()) {
                    self.rows.push(row.join(" | "));
                }
            }
            "table" => {
                self.tables = self.tables.saturating_sub(1);
                if self.tables == 0 && !self.rows.is_empty() {
                    let rows = std::mem::take(&mut self.rows).join("\n");
                    self.blocks.push(Block::new(BlockKind::Table, rows, None));
                }
            }
            n if BLOCK_LEVEL.contains(&n) => self.flush(),
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn flush(&mut self) {
        if self.tables == 0 {
            self.emit(BlockKind::Paragraph);
        }
    }

    fn emit(&mut self, kind: BlockKind) {
        let raw = std::mem::take(&mut self.text);
        let text = if kind == BlockKind::Code || self.preformatted > 0 {
            raw.trim_matches('\n').to_owned()
        } else {
            collapse(&raw)
        };
        if !text.trim().is_empty() && text.trim() != "-" {
            self.blocks.push(Block::new(kind, text, None));
        }
    }
}

fn heading_level(name: &str) -> Option<u8> {
    match name.as_bytes() {
        [b'h', d @ b'1'..=b'6'] => Some(d - b'0'),
        _ => None,
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Finds the end tags of raw-text elements (`</script`, `</style`, in any case) without copying
/// the text, and remembers each answer: the pass asks from ever later offsets, so every byte is
/// searched at most once per name, even when thousands of elements never close.
#[derive(Default)]
struct EndTags {
    /// Per name: the offset searched from, and the end tag found there (`None`: none after it).
    found: Vec<(String, usize, Option<usize>)>,
}

impl EndTags {
    fn find(&mut self, source: &str, name: &str, from: usize) -> Option<usize> {
        if let Some((_, searched, found)) = self.found.iter().find(|(n, _, _)| n == name)
            && from >= *searched
            && found.is_none_or(|at| at >= from)
        {
            return *found;
        }
        let found = find_end_tag(source, name, from);
        self.found.retain(|(n, _, _)| n != name);
        self.found.push((name.to_owned(), from, found));
        found
    }
}

fn find_end_tag(source: &str, name: &str, from: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut at = from;
    while let Some(offset) = source[at..].find("</") {
        let start = at + offset;
        let name_at = start + 2;
        if bytes
            .get(name_at..name_at + name.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(name.as_bytes()))
        {
            return Some(start);
        }
        at = name_at;
    }
    None
}

/// Removes tags nested deeper than `MAX_DEPTH`, keeping their text, in one linear pass.
fn limit_depth(source: &str) -> std::borrow::Cow<'_, str> {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    let mut depth = 0usize;
    let mut kept = String::new();
    let mut copied = 0;
    let mut dropped_any = false;
    let mut end_tags = EndTags::default();
    let mut i = 0;
    while let Some(offset) = source[i..].find('<') {
        let start = i + offset;
        let Some(len) = source[start..].find('>') else {
            break;
        };
        let end = start + len + 1;
        let tag = &source[start + 1..end - 1];
        i = end;
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if !closing && (name == "script" || name == "style") {
            // Raw text: jump to its end tag so `<` inside it is not read as a tag.
            if let Some(close) = end_tags.find(source, &name, end) {
                i = close;
            }
            continue;
        }
        let self_closing = tag.ends_with('/') || VOID.contains(&name.as_str());
        let too_deep = if closing {
            let deep = depth > MAX_DEPTH;
            depth = depth.saturating_sub(1);
            deep
        } else if self_closing {
            false
        } else {
            depth += 1;
            depth > MAX_DEPTH
        };
        if too_deep {
            kept.push_str(&source[copied..start]);
            copied = end;
            dropped_any = true;
        }
    }
    if dropped_any {
        kept.push_str(&source[copied..]);
        kept.into()
    } else {
        source.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_kept_and_chrome_dropped() {
        let html = r#"<html><head><title>T</title><style>p{}</style></head><body>
            <nav><a href="/">Home</a> | <a href="/x">Menu</a></nav>
            <h1>Guide</h1><p>First   para with <b>bold</b>
            text.</p><script>var a = 1 < 2;</script>
            <h2>Table</h2><table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>42</td></tr></table>
            <ul><li>one</li><li>two</li></ul><pre>line 1
  line 2</pre><footer>© 2026</footer></body></html>"#;
        let blocks = convert(html);
        let view: Vec<(BlockKind, &str)> =
            blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            view,
            [
                (BlockKind::Heading(1), "Guide"),
                (BlockKind::Paragraph, "First para with bold text."),
                (BlockKind::Heading(2), "Table"),
                (BlockKind::Table, "Name | Age\nAnn | 42"),
                (BlockKind::Paragraph, "- one"),
                (BlockKind::Paragraph, "- two"),
                (BlockKind::Code, "line 1\n  line 2"),
            ]
        );
    }

    #[test]
    fn absurd_nesting_is_flattened_quickly_and_keeps_its_text() {
        let deep = format!(
            "{}deep text{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        let started = std::time::Instant::now();
        let blocks = convert(&deep);
        assert_eq!(
            blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>(),
            ["deep text"]
        );
        assert!(
            started.elapsed().as_secs() < 10,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_storm_of_script_tags_is_read_in_one_pass() {
        // Closed and unclosed, in both cases: each one used to copy the rest of the file.
        let storm = format!(
            "<p>before the storm</p>{}{}<p>unreachable</p>",
            "<script></script><STYLE></Style>".repeat(150_000),
            "<script>".repeat(150_000)
        );
        let started = std::time::Instant::now();
        let blocks = convert(&storm);
        assert_eq!(blocks[0].text, "before the storm");
        assert!(
            started.elapsed().as_secs() < 10,
            "took {:?}",
            started.elapsed()
        );
    }
}
