//! PPTX: one section per slide, in presentation order, headed "Slide N: title". Then the text of
//! every shape (grouped ones too) and table, then the speaker notes under "Notes". A slide or
//! notes page the package fails to deliver is skipped, not fatal. Blocks carry the slide number
//! as their page.

use super::{
    archive::Archive,
    ooxml,
    tabular::TableText,
    xml::{Node, walk},
};
use crate::domain::{
    blocks::{Block, BlockKind},
    failure::{Failure, FailureCode},
};

/// The fallback copy of alternate content repeats the text of its first choice.
const SKIPPED: &[&str] = &["Fallback"];

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    let (mut archive, main, presentation) =
        ooxml::open(bytes, "PowerPoint", "ppt/presentation.xml", "presentation")?;
    let mut slide_ids = Vec::new();
    walk(&main, &presentation, SKIPPED, |node| {
        if let Node::Open(e) = node
            && e.name() == "sldId"
            && let Some(id) = e.prefixed_attr("id")
        {
            slide_ids.push(id);
        }
    })?;
    if slide_ids.is_empty() {
        return Err(Failure::new(
            FailureCode::TextTooShort,
            "the presentation has no slides",
        ));
    }
    let rels = ooxml::relationships(&mut archive, &main)?;
    let mut blocks = Vec::new();
    for (index, id) in slide_ids.iter().enumerate() {
        match rels.iter().find(|r| &r.id == id) {
            Some(rel) => blocks.extend(slide(&mut archive, &rel.target, index + 1)?),
            None => tracing::warn!(
                slide = index + 1,
                "PPTX slide without a relationship skipped"
            ),
        }
    }
    Ok(blocks)
}

/// Slide `number`'s blocks: its heading, its text, its notes. A slide without any text (pictures,
/// charts) gives none, lest the heading alone pass for content.
fn slide(archive: &mut Archive, part: &str, number: usize) -> Result<Vec<Block>, Failure> {
    let Some(slide) = read_shapes(archive, part)? else {
        return Ok(Vec::new());
    };
    let notes = match ooxml::relationships(archive, part)?
        .into_iter()
        .find(|r| r.kind == "notesSlide")
    {
        Some(rel) => read_shapes(archive, &rel.target)?.map_or_else(Vec::new, |n| n.blocks),
        None => Vec::new(),
    };
    if slide.title.is_none() && slide.blocks.is_empty() && notes.is_empty() {
        return Ok(Vec::new());
    }
    let page = u32::try_from(number).ok();
    let heading = match &slide.title {
        Some(title) => format!("Slide {number}: {title}"),
        None => format!("Slide {number}"),
    };
    let mut blocks = vec![Block::new(BlockKind::Heading(1), heading, page)];
    blocks.extend(slide.blocks.into_iter().map(|b| Block { page, ..b }));
    if !notes.is_empty() {
        blocks.push(Block::new(BlockKind::Heading(2), "Notes", page));
        blocks.extend(notes.into_iter().map(|b| Block {
            kind: BlockKind::Paragraph,
            page,
            ..b
        }));
    }
    Ok(blocks)
}

/// The text of a slide or notes page, or `None` (logged) when the part is missing or broken.
fn read_shapes(archive: &mut Archive, part: &str) -> Result<Option<Shapes>, Failure> {
    let Some(xml) = archive.read_text(part)? else {
        tracing::warn!(part, "PPTX part missing, skipped");
        return Ok(None);
    };
    let mut shapes = Shapes::default();
    match walk(part, &xml, SKIPPED, |node| shapes.visit(node)) {
        Ok(()) => Ok(Some(shapes)),
        Err(failure) => {
            tracing::warn!(%failure, "PPTX part skipped");
            Ok(None)
        }
    }
}

#[derive(Default)]
enum Role {
    #[default]
    Body,
    Title,
    /// Slide numbers, dates and the slide image on a notes page: no content of their own.
    Furniture,
}

#[derive(Default)]
struct Shape {
    role: Role,
    lines: Vec<String>,
}

/// Collects a slide's title and blocks from its shape tree.
#[derive(Default)]
struct Shapes {
    title: Option<String>,
    blocks: Vec<Block>,
    shape: Option<Shape>,
    table: Option<TableText>,
    paragraph: String,
    /// Depth inside `a:t`, the only text read.
    texts: usize,
}

impl Shapes {
    fn visit(&mut self, node: Node<'_>) {
        match node {
            Node::Open(e) => match e.name() {
                "sp" => self.shape = Some(Shape::default()),
                "ph" => {
                    if let Some(shape) = &mut self.shape {
                        shape.role = match e.attr("type").as_deref() {
                            Some("title" | "ctrTitle") => Role::Title,
                            Some("sldNum" | "dt" | "sldImg") => Role::Furniture,
                            _ => Role::Body,
                        };
                    }
                }
                "p" => self.paragraph.clear(),
                "t" => self.texts += 1,
                "br" => self.paragraph.push('\n'),
                "tbl" => self.table = Some(TableText::default()),
                "tr" => self.in_table(TableText::start_row),
                "tc" => self.in_table(TableText::start_cell),
                _ => {}
            },
            Node::Text(text) if self.texts > 0 => self.paragraph.push_str(text),
            Node::Text(_) => {}
            Node::Close(name) => self.close(name),
        }
    }

    fn close(&mut self, name: &str) {
        match name {
            "t" => self.texts = self.texts.saturating_sub(1),
            "p" => {
                let line = std::mem::take(&mut self.paragraph).trim().to_owned();
                if line.is_empty() {
                    return;
                }
                match (&mut self.table, &mut self.shape) {
                    (Some(table), _) => table.add(&line),
                    (None, Some(shape)) => shape.lines.push(line),
                    (None, None) => self
                        .blocks
                        .push(Block::new(BlockKind::Paragraph, line, None)),
                }
            }
            "sp" => {
                let Some(shape) = self.shape.take() else {
                    return;
                };
                match shape.role {
                    _ if shape.lines.is_empty() => {}
                    Role::Title if self.title.is_none() => {
                        self.title = Some(shape.lines.join(" ").replace('\n', " "));
                    }
                    Role::Furniture => {}
                    _ => self.blocks.push(Block::new(
                        BlockKind::Paragraph,
                        shape.lines.join("\n"),
                        None,
                    )),
                }
            }
            "tc" => self.in_table(TableText::end_cell),
            "tr" => self.in_table(TableText::end_row),
            "tbl" => self
                .blocks
                .extend(self.table.take().and_then(TableText::finish)),
            _ => {}
        }
    }

    fn in_table(&mut self, change: impl FnOnce(&mut TableText)) {
        if let Some(table) = &mut self.table {
            change(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::archive::zip_of;
    use crate::convert::testing::sample;

    fn view(blocks: &[Block]) -> Vec<(BlockKind, &str, Option<u32>)> {
        blocks
            .iter()
            .map(|b| (b.kind, b.text.as_str(), b.page))
            .collect()
    }

    #[test]
    fn slides_come_in_presentation_order_with_their_tables() {
        let blocks = convert(&sample("documents/pptx/tbl-cell.pptx")).unwrap();
        let headings: Vec<&str> = blocks
            .iter()
            .filter(|b| b.kind == BlockKind::Heading(1))
            .map(|b| b.text.as_str())
            .collect();
        assert_eq!(headings, ["Slide 1", "Slide 2", "Slide 3"]);
        assert!(
            blocks.contains(&Block::new(
                BlockKind::Table,
                "a | b | c\nd | e | f\ng | h | i",
                Some(3)
            )),
            "{blocks:?}"
        );
        assert!(blocks.iter().any(|b| b.kind == BlockKind::Table
            && b.page == Some(1)
            && b.text.contains("unladen swallows")));
    }

    #[test]
    fn the_title_placeholder_names_the_slide() {
        // Its slide points at a layout the package does not hold: that is not fatal.
        let blocks = convert(&sample("documents/pptx/missing_rels_item.pptx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (
                    BlockKind::Heading(1),
                    "Slide 1: Presentation Title Text",
                    Some(1)
                ),
                (BlockKind::Paragraph, "Subtitle Text", Some(1)),
            ]
        );
    }

    #[test]
    fn speaker_notes_follow_their_slide_without_the_slide_number() {
        let blocks = convert(&sample("documents/pptx/prs-notes.pptx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Heading(1), "Slide 1", Some(1)),
                (BlockKind::Heading(2), "Notes", Some(1)),
                (BlockKind::Paragraph, "Notes", Some(1)),
            ]
        );
    }

    #[test]
    fn a_presentation_without_slides_fails_clearly() {
        let failure = convert(&sample("documents/pptx/no-slides.pptx")).unwrap_err();
        assert_eq!(failure.code, FailureCode::TextTooShort);
        assert_eq!(failure.message, "the presentation has no slides");
    }

    #[test]
    fn slides_without_text_give_nothing_not_a_lone_heading() {
        for name in [
            "documents/pptx/shp-groupshape.pptx",
            "documents/pptx/cht-chart-type.pptx",
        ] {
            let blocks = convert(&sample(name)).unwrap();
            assert!(blocks.is_empty(), "{name}: {blocks:?}");
        }
    }

    #[test]
    fn grouped_shapes_broken_links_and_alternate_content() {
        let presentation = r#"<p:presentation xmlns:p="urn:p" xmlns:r="urn:r"><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId404"/><p:sldId id="258" r:id="rId8"/></p:sldIdLst></p:presentation>"#;
        let slide = r#"<p:sld xmlns:p="urn:p" xmlns:a="urn:a" xmlns:mc="urn:mc"><p:cSld><p:spTree>
            <p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Budget</a:t></a:r><a:br/><a:r><a:t>2026</a:t></a:r></a:p></p:txBody></p:sp>
            <p:grpSp><p:sp><p:txBody><a:p><a:r><a:t>In a group</a:t></a:r></a:p><a:p><a:r><a:t>second line</a:t></a:r></a:p></p:txBody></p:sp></p:grpSp>
            <mc:AlternateContent><mc:Choice><p:sp><p:txBody><a:p><a:r><a:t>Chosen</a:t></a:r></a:p></p:txBody></p:sp></mc:Choice><mc:Fallback><p:sp><p:txBody><a:p><a:r><a:t>Chosen</a:t></a:r></a:p></p:txBody></p:sp></mc:Fallback></mc:AlternateContent>
            <p:sp><p:nvSpPr><p:nvPr><p:ph type="sldNum"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:fld type="slidenum"><a:t>1</a:t></a:fld></a:p></p:txBody></p:sp>
            </p:spTree></p:cSld></p:sld>"#;
        let bytes = zip_of(&[
            ("ppt/presentation.xml", presentation),
            (
                "ppt/_rels/presentation.xml.rels",
                r#"<Relationships><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/><Relationship Id="rId8" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/gone.xml"/></Relationships>"#,
            ),
            ("ppt/slides/slide1.xml", slide),
        ]);
        let blocks = convert(&bytes).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Heading(1), "Slide 1: Budget 2026", Some(1)),
                (BlockKind::Paragraph, "In a group\nsecond line", Some(1)),
                (BlockKind::Paragraph, "Chosen", Some(1)),
            ]
        );
    }

    #[test]
    fn legacy_and_broken_files_fail_cleanly() {
        assert_eq!(
            convert(&[&crate::domain::formats::OLE_MAGIC[..], &[0; 64]].concat())
                .unwrap_err()
                .code,
            FailureCode::UnsupportedFormat
        );
        assert_eq!(
            convert(b"PK\x03\x04 not really").unwrap_err().code,
            FailureCode::CorruptFile
        );
    }
}
