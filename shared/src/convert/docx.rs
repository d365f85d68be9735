//! DOCX: the body's paragraphs, headings (by paragraph style or outline level), list items and
//! tables, text boxes, then the footnotes, the endnotes, and the headers and footers once each.
//! Transitional and Strict files read alike: elements are matched by local name.

use std::collections::{HashMap, HashSet};

use super::{
    archive::Archive,
    ooxml::{self, Relationship},
    tabular::TableText,
    xml::{Node, walk},
};
use crate::domain::{
    blocks::{Block, BlockKind},
    failure::Failure,
};

/// Subtrees whose text must not be read: the fallback copy of alternate content (the same text
/// box drawn the old way), tracked changes' former properties, text moved elsewhere, and tab stop
/// definitions (whose `w:tab` is not a character).
const SKIPPED: &[&str] = &["Fallback", "pPrChange", "rPrChange", "moveFrom", "tabs"];

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    let (mut archive, main, document) =
        ooxml::open(bytes, "Word", "word/document.xml", "document")?;
    let rels = ooxml::relationships(&mut archive, &main)?;
    let styles = match part_text(&mut archive, &rels, "styles")?.into_iter().next() {
        Some((name, xml)) => Styles::parse(&name, &xml),
        None => Styles::default(),
    };
    let mut blocks = Walker::run(&main, &document, &styles)?;
    for (kind, heading) in [("footnotes", "Footnotes"), ("endnotes", "Endnotes")] {
        let notes = auxiliary(&mut archive, &rels, &[kind], &styles)?;
        if !notes.is_empty() {
            blocks.push(Block::new(BlockKind::Heading(1), heading, None));
            blocks.extend(notes);
        }
    }
    // Every section may repeat the same header and footer: each distinct text is kept once.
    let mut seen = HashSet::new();
    let margins: Vec<Block> = auxiliary(&mut archive, &rels, &["header", "footer"], &styles)?
        .into_iter()
        .filter(|b| seen.insert(b.text.clone()))
        .collect();
    if !margins.is_empty() {
        blocks.push(Block::new(
            BlockKind::Heading(1),
            "Headers and footers",
            None,
        ));
        blocks.extend(margins);
    }
    Ok(blocks)
}

/// The text of each part the document links as `kind`, in relationship order.
fn part_text(
    archive: &mut Archive,
    rels: &[Relationship],
    kind: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let mut parts = Vec::new();
    for rel in rels.iter().filter(|r| r.kind == kind) {
        if let Some(xml) = archive.read_text(&rel.target)? {
            parts.push((rel.target.clone(), xml));
        }
    }
    Ok(parts)
}

/// The blocks of secondary parts (notes, headers); a broken one is skipped, not fatal.
fn auxiliary(
    archive: &mut Archive,
    rels: &[Relationship],
    kinds: &[&str],
    styles: &Styles,
) -> Result<Vec<Block>, Failure> {
    let mut blocks = Vec::new();
    for kind in kinds {
        for (name, xml) in part_text(archive, rels, kind)? {
            match Walker::run(&name, &xml, styles) {
                Ok(part) => blocks.extend(part.into_iter().map(|b| Block {
                    kind: BlockKind::Paragraph,
                    ..b
                })),
                Err(failure) => tracing::warn!(%failure, "DOCX part skipped"),
            }
        }
    }
    Ok(blocks)
}

/// Heading levels of paragraph styles, by style id.
#[derive(Default)]
struct Styles {
    levels: HashMap<String, u8>,
}

impl Styles {
    /// Reads `styles.xml`: a style is a heading by its built-in name (`heading 2`, `Title`), its
    /// outline level, or the style it is based on.
    fn parse(part: &str, xml: &str) -> Self {
        #[derive(Default)]
        struct Style {
            id: String,
            level: Option<u8>,
            based_on: Option<String>,
        }
        let mut styles: Vec<Style> = Vec::new();
        let walked = walk(part, xml, SKIPPED, |node| {
            let Node::Open(e) = node else { return };
            match e.name() {
                "style" => styles.push(Style {
                    id: e.attr("styleId").unwrap_or_default(),
                    ..Style::default()
                }),
                "name" | "outlineLvl" | "basedOn" => {
                    let (Some(style), Some(value)) = (styles.last_mut(), e.attr("val")) else {
                        return;
                    };
                    match e.name() {
                        "name" => style.level = style.level.or(named_level(&value)),
                        "outlineLvl" => style.level = style.level.or(outline_level(&value)),
                        _ => style.based_on = Some(value),
                    }
                }
                _ => {}
            }
        });
        if let Err(failure) = walked {
            tracing::warn!(%failure, "DOCX styles skipped");
        }
        let by_id: HashMap<&str, &Style> = styles.iter().map(|s| (s.id.as_str(), s)).collect();
        let levels = styles
            .iter()
            .filter_map(|style| {
                // Follow `basedOn` a few steps; a cycle must not loop.
                let mut current = style;
                for _ in 0..8 {
                    if let Some(level) = current.level {
                        return Some((style.id.clone(), level));
                    }
                    current = by_id.get(current.based_on.as_deref()?)?;
                }
                None
            })
            .collect();
        Self { levels }
    }

    fn level(&self, style_id: &str) -> Option<u8> {
        self.levels
            .get(style_id)
            .copied()
            .or_else(|| named_level(style_id))
    }
}

/// `heading 1` … `heading 6` and `Title`, as style names (or, without `styles.xml`, style ids).
fn named_level(name: &str) -> Option<u8> {
    let name: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    match name.strip_prefix("heading") {
        Some(digit) => digit.parse().ok().filter(|n| (1..=6).contains(n)),
        None => (name == "title").then_some(1),
    }
}

/// `w:outlineLvl` counts from 0; 9 means body text.
fn outline_level(value: &str) -> Option<u8> {
    value.parse::<u8>().ok().filter(|l| *l < 6).map(|l| l + 1)
}

#[derive(Default)]
struct Paragraph {
    text: String,
    heading: Option<u8>,
    /// Nesting level, for a list item.
    list_level: Option<usize>,
}

enum Frame {
    Paragraph(Paragraph),
    Table(TableText),
}

/// Turns one WordprocessingML part into blocks. Paragraphs can open inside paragraphs (a text box
/// is anchored in a run) and tables inside table cells, so what is open is a stack.
struct Walker<'s> {
    styles: &'s Styles,
    blocks: Vec<Block>,
    open: Vec<Frame>,
    /// Depth inside runs (`w:r`), where `w:tab` and `w:br` are characters, and inside text
    /// (`w:t`), the only text read: field codes and deleted text are left out.
    runs: usize,
    texts: usize,
}

impl<'s> Walker<'s> {
    fn run(part: &str, xml: &str, styles: &'s Styles) -> Result<Vec<Block>, Failure> {
        let mut walker = Walker {
            styles,
            blocks: Vec::new(),
            open: Vec::new(),
            runs: 0,
            texts: 0,
        };
        walk(part, xml, SKIPPED, |node| match node {
            Node::Open(e) => {
                let value = || e.attr("val");
                walker.open(e.name(), value)
            }
            Node::Close(name) => walker.close(name),
            Node::Text(text) if walker.texts > 0 => walker.push(text),
            Node::Text(_) => {}
        })?;
        Ok(walker.blocks)
    }

    fn open(&mut self, name: &str, value: impl Fn() -> Option<String>) {
        match name {
            "p" => self.open.push(Frame::Paragraph(Paragraph::default())),
            "tbl" => self.open.push(Frame::Table(TableText::default())),
            "tr" => self.in_table(TableText::start_row),
            "tc" => self.in_table(TableText::start_cell),
            "r" => self.runs += 1,
            "t" => self.texts += 1,
            "tab" if self.runs > 0 => self.push("\t"),
            "br" | "cr" if self.runs > 0 => self.push("\n"),
            "noBreakHyphen" if self.runs > 0 => self.push("-"),
            "pStyle" | "outlineLvl" | "ilvl" | "numId" => {
                let Some(Frame::Paragraph(paragraph)) = self.open.last_mut() else {
                    return;
                };
                let value = value().unwrap_or_default();
                match name {
                    "pStyle" => paragraph.heading = paragraph.heading.or(self.styles.level(&value)),
                    "outlineLvl" => {
                        paragraph.heading = paragraph.heading.or(outline_level(&value));
                    }
                    "ilvl" => paragraph.list_level = Some(value.parse().unwrap_or(0).min(8)),
                    // Numbering id 0 takes a style's numbering away.
                    _ if value == "0" => paragraph.list_level = None,
                    _ => paragraph.list_level = Some(paragraph.list_level.unwrap_or(0)),
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        match name {
            "r" => self.runs = self.runs.saturating_sub(1),
            "t" => self.texts = self.texts.saturating_sub(1),
            "tc" => self.in_table(TableText::end_cell),
            "tr" => self.in_table(TableText::end_row),
            // Frames mirror the `p` and `tbl` elements, which well-formed XML closes in order.
            "p" | "tbl" => {
                let block = match self.open.pop() {
                    Some(Frame::Paragraph(paragraph)) => paragraph_block(&paragraph),
                    Some(Frame::Table(table)) => table.finish(),
                    None => None,
                };
                if let Some(block) = block {
                    self.place(block);
                }
            }
            _ => {}
        }
    }

    /// A finished paragraph or table goes into the enclosing table cell, if any (a nested table
    /// flattened to "a, b; c, d"), or else becomes a block of its own.
    fn place(&mut self, block: Block) {
        match self.open.last_mut() {
            Some(Frame::Table(table)) => match block.kind {
                BlockKind::Table => table.add(&block.text.replace(" | ", ", ").replace('\n', "; ")),
                _ => table.add(&block.text),
            },
            _ => self.blocks.push(block),
        }
    }

    fn in_table(&mut self, change: impl FnOnce(&mut TableText)) {
        if let Some(Frame::Table(table)) = self.open.last_mut() {
            change(table);
        }
    }

    fn push(&mut self, text: &str) {
        if let Some(Frame::Paragraph(paragraph)) = self.open.last_mut() {
            paragraph.text.push_str(text);
        }
    }
}

fn paragraph_block(paragraph: &Paragraph) -> Option<Block> {
    let text = paragraph.text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match (paragraph.heading, paragraph.list_level) {
        (Some(level), _) => Block::new(BlockKind::Heading(level), text, None),
        (None, Some(depth)) => Block::new(
            BlockKind::Paragraph,
            format!("{}- {text}", "  ".repeat(depth)),
            None,
        ),
        (None, None) => Block::new(BlockKind::Paragraph, text, None),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::convert::archive::zip_of;
    use crate::convert::testing::{sample, view};
    use crate::domain::failure::FailureCode;

    const W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
    const STRICT: &str = "http://purl.oclc.org/ooxml/wordprocessingml/main";

    /// A DOCX of one body (inside `<w:body>`) and its styles.
    fn docx(namespace: &str, body: &str) -> Vec<u8> {
        let document = format!(
            r#"<?xml version="1.0"?><w:document xmlns:w="{namespace}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{body}</w:body></w:document>"#
        );
        let styles = format!(
            r#"<w:styles xmlns:w="{namespace}"><w:style w:styleId="Titre1"><w:name w:val="heading 1"/></w:style><w:style w:styleId="Sub"><w:name w:val="My Sub"/><w:basedOn w:val="Titre2"/></w:style><w:style w:styleId="Titre2"><w:name w:val="Custom"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style></w:styles>"#
        );
        zip_of(&[
            (
                "_rels/.rels",
                r#"<Relationships><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
            ),
            ("word/document.xml", &document),
            (
                "word/_rels/document.xml.rels",
                r#"<Relationships><Relationship Id="r2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#,
            ),
            ("word/styles.xml", &styles),
        ])
    }

    const BODY: &str = r#"
        <w:p><w:pPr><w:pStyle w:val="Titre1"/></w:pPr><w:r><w:t>Plan</w:t></w:r></w:p>
        <w:p><w:pPr><w:pStyle w:val="Sub"/></w:pPr><w:r><w:t>Based on a heading</w:t></w:r></w:p>
        <w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t xml:space="preserve">Name:</w:t><w:tab/><w:t>Ann</w:t><w:br/><w:t>next line</w:t></w:r><w:r><w:instrText> PAGE </w:instrText></w:r></w:p>
        <w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="3"/></w:numPr></w:pPr><w:r><w:t>nested item</w:t></w:r></w:p>
        <w:p><w:pPr><w:outlineLvl w:val="2"/></w:pPr><w:r><w:t>Outlined</w:t></w:r></w:p>
        <w:tbl><w:tr><w:tc><w:p><w:r><w:t>A1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>B1</w:t></w:r></w:p><w:p><w:r><w:t>more</w:t></w:r></w:p></w:tc></w:tr>
          <w:tr><w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>y</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>z</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>
        <w:p><w:r><w:t>Anchor</w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>Boxed text</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>Boxed text</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>
        <w:p><w:r><w:delText>deleted</w:delText></w:r></w:p>"#;

    #[test]
    fn structure_is_read_in_both_namespaces() {
        for namespace in [W, STRICT] {
            let blocks = convert(&docx(namespace, BODY)).unwrap();
            assert_eq!(
                view(&blocks),
                [
                    (BlockKind::Heading(1), "Plan"),
                    (BlockKind::Heading(2), "Based on a heading"),
                    (BlockKind::Paragraph, "Name:\tAnn\nnext line"),
                    (BlockKind::Paragraph, "  - nested item"),
                    (BlockKind::Heading(3), "Outlined"),
                    (BlockKind::Table, "A1 | B1 more\nx, y; z | "),
                    (BlockKind::Paragraph, "Boxed text"),
                    (BlockKind::Paragraph, "Anchor"),
                ],
                "{namespace}"
            );
        }
    }

    #[test]
    fn strict_sample() {
        let blocks = convert(&sample("documents/docx/strict-format.docx")).unwrap();
        assert_eq!(view(&blocks), [(BlockKind::Paragraph, "Test")]);
    }

    #[test]
    fn list_sample() {
        let blocks = convert(&sample("documents/docx/simple-list.docx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Paragraph, "- Apple"),
                (BlockKind::Paragraph, "- Banana")
            ]
        );
    }

    #[test]
    fn table_samples() {
        let blocks = convert(&sample("documents/docx/tables.docx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Paragraph, "Above"),
                (
                    BlockKind::Table,
                    "Top left | Top right\nBottom left | Bottom right"
                ),
                (BlockKind::Paragraph, "Below"),
            ]
        );
        // Three tables, every cell empty.
        let empty = convert(&sample("documents/docx/tbl-having-tables.docx")).unwrap();
        assert!(empty.is_empty(), "{empty:?}");
    }

    #[test]
    fn footnotes_follow_the_body() {
        let blocks = convert(&sample("documents/docx/footnotes.docx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Paragraph, "Ouch."),
                (BlockKind::Heading(1), "Footnotes"),
                (BlockKind::Paragraph, "A tachyon walks into a bar."),
                (BlockKind::Paragraph, "Fin."),
            ]
        );
    }

    #[test]
    fn headers_and_footers_come_once_at_the_end() {
        let blocks = convert(&sample("documents/docx/hdr-header-footer.docx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Paragraph, "section with header"),
                (BlockKind::Paragraph, "section without header of its own."),
                (BlockKind::Heading(1), "Headers and footers"),
                (BlockKind::Paragraph, "Header for section-1"),
                (BlockKind::Paragraph, "Footer for section 1"),
            ]
        );
    }

    #[test]
    fn a_text_box_is_read_once() {
        let blocks = convert(&sample("documents/docx/text-box.docx")).unwrap();
        assert_eq!(view(&blocks), [(BlockKind::Paragraph, "Datum plane")]);
    }

    #[test]
    fn odd_but_valid_files() {
        let bom = convert(&sample("documents/docx/utf8-bom.docx")).unwrap();
        assert_eq!(
            view(&bom),
            [(BlockKind::Paragraph, "This XML has a byte order mark.")]
        );
        assert!(
            convert(&sample("documents/docx/empty.docx"))
                .unwrap()
                .is_empty()
        );
        let comments = convert(&sample("documents/docx/comments.docx")).unwrap();
        assert_eq!(view(&comments), [(BlockKind::Paragraph, "Ouch.")]);
    }

    #[test]
    fn hostile_files_fail_cleanly() {
        for (path, code) in [
            ("hostile/empty.docx", FailureCode::CorruptFile),
            ("hostile/truncated.docx", FailureCode::CorruptFile),
            ("hostile/really-a-pdf.docx", FailureCode::CorruptFile),
        ] {
            let failure = convert(&sample(path)).unwrap_err();
            assert_eq!(failure.code, code, "{path}: {failure}");
        }
        let not_word = zip_of(&[("hello.txt", "hi")]);
        assert!(
            convert(&not_word)
                .unwrap_err()
                .message
                .contains("no document part")
        );
    }

    #[test]
    fn the_bomb_fails_fast() {
        let bytes = sample("hostile/bomb-200mb.docx");
        let started = Instant::now();
        let failure = convert(&bytes).unwrap_err();
        assert_eq!(failure.code, FailureCode::FileTooLarge, "{failure}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn heading_names() {
        assert_eq!(named_level("heading 3"), Some(3));
        assert_eq!(named_level("Heading1"), Some(1));
        assert_eq!(named_level("Title"), Some(1));
        assert_eq!(named_level("heading 9"), None);
        assert_eq!(named_level("Normal"), None);
        assert_eq!(outline_level("9"), None);
        assert_eq!(outline_level("0"), Some(1));
    }
}
