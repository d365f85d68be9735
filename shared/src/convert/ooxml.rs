//! What the Office Open XML formats share: the relationships that link their parts, and the
//! refusal of password-protected files, which are OLE compound files rather than zips.

use super::{
    archive::{Archive, resolve},
    xml::{Node, walk},
};
use crate::domain::{
    failure::{Failure, FailureCode},
    formats::OLE_MAGIC,
};

pub struct Relationship {
    pub id: String,
    /// The last segment of the relationship type (`officeDocument`, `slide`, `footnotes`), which
    /// the transitional and the Strict namespaces share.
    pub kind: String,
    /// The archive path of the target part.
    pub target: String,
}

/// The relationships of `part` (`""` for the package's own). A missing or broken `.rels` part
/// means none: what it would have linked is then skipped, not fatal.
pub fn relationships(archive: &mut Archive, part: &str) -> Result<Vec<Relationship>, Failure> {
    let rels = match part.rsplit_once('/') {
        Some((folder, file)) => format!("{folder}/_rels/{file}.rels"),
        None => format!("_rels/{part}.rels"),
    };
    let Some(xml) = archive.read_text(&rels)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    let walked = walk(&rels, &xml, &[], |node| {
        let Node::Open(e) = node else { return };
        let external = e.attr("TargetMode").is_some_and(|m| m == "External");
        if e.name() != "Relationship" || external {
            return;
        }
        if let (Some(id), Some(kind), Some(target)) =
            (e.attr("Id"), e.attr("Type"), e.attr("Target"))
        {
            found.push(Relationship {
                id,
                kind: kind.rsplit('/').next().unwrap_or_default().to_owned(),
                target: resolve(part, &target),
            });
        }
    });
    if let Err(failure) = walked {
        tracing::warn!(%failure, "relationships skipped");
        return Ok(Vec::new());
    }
    Ok(found)
}

/// The main part (`word/document.xml`, `ppt/presentation.xml`), as the package's relationships
/// name it, or where it usually is.
pub fn main_part(archive: &mut Archive, usual: &str) -> Result<String, Failure> {
    Ok(relationships(archive, "")?
        .into_iter()
        .find(|r| r.kind == "officeDocument")
        .map_or_else(|| usual.to_owned(), |r| r.target))
}

/// An OOXML package opened at its main part: the archive, the part's name and its XML.
/// `application` and `part` name them for people ("Word", "document").
pub fn open<'a>(
    bytes: &'a [u8],
    application: &str,
    usual: &str,
    part: &str,
) -> Result<(Archive<'a>, String, String), Failure> {
    refuse_ole(bytes, application)?;
    let mut archive = Archive::open(bytes)?;
    let main = main_part(&mut archive, usual)?;
    match archive.read_text(&main)? {
        Some(xml) => Ok((archive, main, xml)),
        None => Err(Failure::new(
            FailureCode::CorruptFile,
            format!("the file has no {part} part ({main}); is it really a {application} file?"),
        )),
    }
}

/// Refuses an OLE compound file given as a DOCX or PPTX: an encrypted package, or a legacy
/// binary document (`.doc`, `.ppt`) under a new name. `application` names it for people.
pub fn refuse_ole(bytes: &[u8], application: &str) -> Result<(), Failure> {
    if !bytes.starts_with(&OLE_MAGIC) {
        return Ok(());
    }
    if holds_encrypted_package(bytes) {
        return Err(password_protected(application));
    }
    Err(Failure::new(
        FailureCode::UnsupportedFormat,
        format!("this is a legacy {application} 97-2003 file; save it in the current format"),
    ))
}

pub fn password_protected(application: &str) -> Failure {
    Failure::new(
        FailureCode::PasswordProtected,
        format!("the {application} file is encrypted with a password"),
    )
}

/// Whether an OLE compound file holds an encrypted OOXML package: Office names that stream
/// `EncryptedPackage`, and directory entries store names in UTF-16LE.
pub fn holds_encrypted_package(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    bytes.windows(name.len()).any(|w| w == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::archive::zip_of;

    #[test]
    fn relationships_resolve_and_skip_external_targets() {
        let bytes = zip_of(&[
            (
                "_rels/.rels",
                r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument" Target="/word/document.xml"/></Relationships>"#,
            ),
            (
                "word/_rels/document.xml.rels",
                r#"<Relationships><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://example.com/" TargetMode="External"/></Relationships>"#,
            ),
        ]);
        let mut archive = Archive::open(&bytes).unwrap();
        assert_eq!(
            main_part(&mut archive, "x.xml").unwrap(),
            "word/document.xml"
        );
        let rels = relationships(&mut archive, "word/document.xml").unwrap();
        let view: Vec<_> = rels
            .iter()
            .map(|r| (r.id.as_str(), r.kind.as_str(), r.target.as_str()))
            .collect();
        assert_eq!(view, [("rId3", "footer", "word/footer1.xml")]);
        assert!(
            relationships(&mut archive, "word/footer1.xml")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn ole_files_are_refused_as_encrypted_or_legacy() {
        let stream: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let encrypted = [&OLE_MAGIC[..], &[0; 100], &stream, &[0; 16]].concat();
        assert_eq!(
            refuse_ole(&encrypted, "Word").unwrap_err().code,
            FailureCode::PasswordProtected
        );
        let legacy = [&OLE_MAGIC[..], &[0; 100]].concat();
        assert_eq!(
            refuse_ole(&legacy, "Word").unwrap_err().code,
            FailureCode::UnsupportedFormat
        );
        assert!(refuse_ole(b"PK\x03\x04", "Word").is_ok());
    }
}
