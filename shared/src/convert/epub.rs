//! EPUB: the chapters in reading (spine) order, each converted as HTML. A chapter without a
//! heading of its own is headed by its title in the table of contents. Books whose content is
//! encrypted (DRM) are refused; obfuscated fonts alone are no obstacle.

use std::collections::HashMap;

use super::{
    archive::{Archive, resolve},
    html,
    xml::{Element, Node, walk},
};
use crate::domain::{
    blocks::{Block, BlockKind},
    failure::{Failure, FailureCode},
};

const PACKAGE_MEDIA_TYPE: &str = "application/oebps-package+xml";
const NCX_MEDIA_TYPE: &str = "application/x-dtbncx+xml";
/// Encryption algorithms that only mangle embedded fonts (IDPF and Adobe obfuscation).
const FONT_OBFUSCATION: [&str; 2] = [
    "http://www.idpf.org/2008/embedding",
    "http://ns.adobe.com/pdf/enc#RC",
];

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    let mut archive = Archive::open(bytes)?;
    refuse_drm(&mut archive)?;
    let (opf_path, opf) = package_document(&mut archive)?;
    let package = Package::parse(&opf_path, &opf)?;
    if package.spine.is_empty() {
        return Err(Failure::new(
            FailureCode::TextTooShort,
            "the book has no chapters",
        ));
    }
    let titles = package.titles(&mut archive)?;
    let mut blocks = Vec::new();
    for path in &package.spine {
        let Some(xhtml) = archive.read_text(path)? else {
            tracing::warn!(chapter = %path, "EPUB chapter missing, skipped");
            continue;
        };
        let chapter = html::convert(&xhtml);
        let headed = chapter
            .iter()
            .any(|b| matches!(b.kind, BlockKind::Heading(_)));
        if let Some(title) = titles.get(path).filter(|_| !headed && !chapter.is_empty()) {
            blocks.push(Block::new(BlockKind::Heading(1), title.clone(), None));
        }
        blocks.extend(chapter);
    }
    Ok(blocks)
}

fn refuse_drm(archive: &mut Archive) -> Result<(), Failure> {
    const PART: &str = "META-INF/encryption.xml";
    let Some(xml) = archive.read_text(PART)? else {
        return Ok(());
    };
    let mut encrypted = false;
    walk(PART, &xml, &[], |node| {
        if let Node::Open(e) = node
            && e.name() == "EncryptionMethod"
        {
            let algorithm = e.attr("Algorithm").unwrap_or_default();
            encrypted |= !FONT_OBFUSCATION.contains(&algorithm.as_str());
        }
    })?;
    if encrypted {
        return Err(Failure::new(
            FailureCode::PasswordProtected,
            "the book's content is encrypted (DRM)",
        ));
    }
    Ok(())
}

/// The OPF package document that `META-INF/container.xml` points to (the first that exists,
/// preferring those declared as packages), or any `.opf` file when the container is no help.
fn package_document(archive: &mut Archive) -> Result<(String, String), Failure> {
    const CONTAINER: &str = "META-INF/container.xml";
    let mut candidates = Vec::new();
    if let Some(xml) = archive.read_text(CONTAINER)? {
        walk(CONTAINER, &xml, &[], |node| {
            if let Node::Open(e) = node
                && e.name() == "rootfile"
                && let Some(path) = e.attr("full-path")
            {
                let declared = e
                    .attr("media-type")
                    .is_some_and(|t| t == PACKAGE_MEDIA_TYPE);
                candidates.push((!declared, resolve("", &path)));
            }
        })?;
    }
    candidates.sort_by_key(|(undeclared, _)| *undeclared);
    let any_opf = archive
        .names()
        .find(|n| n.to_ascii_lowercase().ends_with(".opf"))
        .map(str::to_owned);
    for path in candidates.into_iter().map(|(_, p)| p).chain(any_opf) {
        if let Some(opf) = archive.read_text(&path)? {
            return Ok((path, opf));
        }
    }
    Err(Failure::new(
        FailureCode::CorruptFile,
        "the book has no package document (OPF); is it really an EPUB?",
    ))
}

struct Item {
    path: String,
    media_type: String,
    properties: String,
}

struct Package {
    /// Archive paths of the (X)HTML chapters in reading order, the navigation document left out.
    spine: Vec<String>,
    /// The EPUB 2 table of contents and the EPUB 3 navigation document.
    ncx: Option<String>,
    nav: Option<String>,
}

impl Package {
    fn parse(opf_path: &str, opf: &str) -> Result<Self, Failure> {
        let mut manifest: HashMap<String, Item> = HashMap::new();
        let mut spine_ids = Vec::new();
        let mut toc_id = None;
        walk(opf_path, opf, &[], |node| {
            let Node::Open(e) = node else { return };
            match e.name() {
                "item" => {
                    if let (Some(id), Some(href)) = (e.attr("id"), e.attr("href")) {
                        let item = Item {
                            path: resolve(opf_path, &href),
                            media_type: e.attr("media-type").unwrap_or_default(),
                            properties: e.attr("properties").unwrap_or_default(),
                        };
                        manifest.insert(id, item);
                    }
                }
                "itemref" => spine_ids.extend(e.attr("idref")),
                "spine" => toc_id = e.attr("toc"),
                _ => {}
            }
        })?;
        let is_nav = |item: &Item| item.properties.split_whitespace().any(|p| p == "nav");
        let spine = spine_ids
            .iter()
            .filter_map(|id| manifest.get(id))
            .filter(|item| item.media_type.contains("html") && !is_nav(item))
            .map(|item| item.path.clone())
            .collect();
        let ncx = toc_id
            .and_then(|id| manifest.get(&id))
            .or_else(|| manifest.values().find(|i| i.media_type == NCX_MEDIA_TYPE))
            .map(|item| item.path.clone());
        let nav = manifest
            .values()
            .find(|item| is_nav(item))
            .map(|item| item.path.clone());
        Ok(Self { spine, ncx, nav })
    }

    /// Chapter titles by archive path, from the NCX first and the navigation document second.
    /// A table of contents that cannot be read only costs the titles.
    fn titles(&self, archive: &mut Archive) -> Result<HashMap<String, String>, Failure> {
        let mut titles = HashMap::new();
        for (path, toc) in [(&self.ncx, &NCX), (&self.nav, &NAV)] {
            let Some(path) = path else { continue };
            let Some(xml) = archive.read_text(path)? else {
                continue;
            };
            match toc.entries(path, &xml) {
                Ok(entries) => {
                    for (target, title) in entries {
                        titles.entry(target).or_insert(title);
                    }
                }
                Err(failure) => tracing::warn!(%failure, "EPUB table of contents skipped"),
            }
        }
        Ok(titles)
    }
}

/// Where a table of contents keeps its entries: inside the `scope` element, the text of `label`
/// elements titles the `target` attribute of the next `link` element.
struct Toc {
    scope: fn(&Element<'_>) -> bool,
    label: &'static str,
    link: &'static str,
    target: &'static str,
}

/// EPUB 2: `<navMap><navPoint><navLabel><text>…</text></navLabel><content src="…"/>` (the page
/// list beside the map is left out).
const NCX: Toc = Toc {
    scope: |e| e.name() == "navMap",
    label: "navLabel",
    link: "content",
    target: "src",
};

/// EPUB 3: `<nav epub:type="toc">…<a href="…">…</a>` (landmarks and page lists left out).
const NAV: Toc = Toc {
    scope: |e| {
        e.name() == "nav"
            && e.attr("type")
                .is_some_and(|t| t.split_whitespace().any(|t| t == "toc"))
    },
    label: "a",
    link: "a",
    target: "href",
};

impl Toc {
    /// (chapter path, title) pairs, in document order.
    fn entries(&self, path: &str, xml: &str) -> Result<Vec<(String, String)>, Failure> {
        let mut entries = Vec::new();
        // Depth inside the scope element; 0 outside it.
        let mut depth = 0usize;
        let mut in_label = false;
        let mut title = String::new();
        let mut target = None;
        walk(path, xml, &[], |node| match node {
            Node::Open(e) => {
                if depth > 0 {
                    depth += 1;
                } else if (self.scope)(&e) {
                    depth = 1;
                } else {
                    return;
                }
                if e.name() == self.label {
                    in_label = true;
                    title.clear();
                }
                if e.name() == self.link {
                    target = e.attr(self.target).map(|href| resolve(path, &href));
                }
            }
            Node::Text(text) if in_label => title.push_str(text),
            Node::Text(_) => {}
            Node::Close(_) if depth == 0 => {}
            Node::Close(name) => {
                depth -= 1;
                if name == self.label {
                    in_label = false;
                }
                if name == self.link
                    && let Some(target) = target.take()
                {
                    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !title.is_empty() {
                        entries.push((target, title));
                    }
                }
            }
        })?;
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::archive::zip_of;
    use crate::convert::testing::{sample, view};

    #[test]
    fn chapters_follow_the_spine_and_the_nav_document_is_left_out() {
        // Its container names a broken package first; hrefs climb out of the OPF's folder.
        let blocks = convert(&sample("documents/epub/example.epub")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Heading(1), "rbook cover"),
                (BlockKind::Heading(1), "rbook c1"),
                (
                    BlockKind::Paragraph,
                    "To top Next section Next chapter Table of Contents"
                ),
                (BlockKind::Heading(1), "rbook c1.2"),
                (BlockKind::Heading(1), "rbook c2"),
            ]
        );
    }

    #[test]
    fn a_real_book_reads_in_order() {
        let blocks = convert(&sample("documents/epub/developers-reference.epub")).unwrap();
        let heading = |title: &str| {
            blocks
                .iter()
                .position(|b| b.kind == BlockKind::Heading(1) && b.text == title)
                .unwrap_or_else(|| panic!("{title} missing"))
        };
        let scope = heading("1. Scope of This Document");
        assert!(
            blocks[scope + 1]
                .text
                .starts_with("The purpose of this document is to provide an overview")
        );
        assert!(heading("2. Applying to Become a Member") < heading("6. Best Packaging Practices"));
        assert!(blocks.len() > 500, "{}", blocks.len());
    }

    fn book(encryption: Option<&str>) -> Vec<u8> {
        let mut parts = vec![
            (
                "META-INF/container.xml",
                r#"<container><rootfiles><rootfile full-path="OPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#,
            ),
            (
                "OPS/book.opf",
                r#"<package xmlns="http://www.idpf.org/2007/opf"><manifest>
                    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
                    <item id="one" href="text/one.xhtml" media-type="application/xhtml+xml"/>
                    <item id="two" href="text/two.xhtml" media-type="application/xhtml+xml"/>
                    <item id="three" href="text/three.xhtml" media-type="application/xhtml+xml"/>
                    <item id="pic" href="cover.png" media-type="image/png"/>
                </manifest><spine><itemref idref="two"/><itemref idref="pic"/><itemref idref="missing"/><itemref idref="one"/><itemref idref="three"/></spine></package>"#,
            ),
            (
                "OPS/nav.xhtml",
                r#"<html xmlns:epub="http://www.idpf.org/2007/ops"><body><nav epub:type="page-list"><a href="text/one.xhtml">7</a></nav><nav epub:type="toc"><ol><li><a href="text/one.xhtml#top">The  First</a></li><li><a href="text/two.xhtml">The Second</a></li><li><a href="text/three.xhtml">The Third</a></li></ol></nav></body></html>"#,
            ),
            (
                "OPS/text/one.xhtml",
                "<html><body><p>First words.</p></body></html>",
            ),
            (
                "OPS/text/three.xhtml",
                r#"<html><body><img src="plate.png"/></body></html>"#,
            ),
            (
                "OPS/text/two.xhtml",
                "<html><body><h2>Own heading</h2><p>Second words.</p></body></html>",
            ),
        ];
        if let Some(xml) = encryption {
            parts.push(("META-INF/encryption.xml", xml));
        }
        zip_of(&parts)
    }

    #[test]
    fn a_chapter_without_a_heading_takes_its_title_from_the_toc_unless_it_is_empty() {
        assert_eq!(
            view(&convert(&book(None)).unwrap()),
            [
                (BlockKind::Heading(2), "Own heading"),
                (BlockKind::Paragraph, "Second words."),
                (BlockKind::Heading(1), "The First"),
                (BlockKind::Paragraph, "First words."),
            ]
        );
    }

    #[test]
    fn encrypted_content_is_refused_but_obfuscated_fonts_are_not() {
        let method = |algorithm: &str| {
            format!(
                r#"<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:EncryptionMethod Algorithm="{algorithm}"/><enc:CipherData><enc:CipherReference URI="OPS/text/one.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>"#
            )
        };
        let drm = method("http://www.w3.org/2001/04/xmlenc#aes128-cbc");
        assert_eq!(
            convert(&book(Some(&drm))).unwrap_err().code,
            FailureCode::PasswordProtected
        );
        let fonts = method("http://www.idpf.org/2008/embedding");
        assert!(convert(&book(Some(&fonts))).is_ok());
    }

    #[test]
    fn not_a_book() {
        let failure = convert(&zip_of(&[("mimetype", "application/epub+zip")])).unwrap_err();
        assert_eq!(failure.code, FailureCode::CorruptFile);
        assert!(failure.message.contains("OPF"), "{failure}");
    }
}
