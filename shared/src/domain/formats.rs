//! What kind of document an upload is: its content decides, its name only breaks ties.

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Csv,
    Epub,
    Html,
    Markdown,
    Text,
    Json,
}

impl Format {
    pub const ALL: [Self; 10] = [
        Self::Pdf,
        Self::Docx,
        Self::Pptx,
        Self::Xlsx,
        Self::Csv,
        Self::Epub,
        Self::Html,
        Self::Markdown,
        Self::Text,
        Self::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Docx => "docx",
            Self::Pptx => "pptx",
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
            Self::Epub => "epub",
            Self::Html => "html",
            Self::Markdown => "md",
            Self::Text => "txt",
            Self::Json => "json",
        }
    }

    /// The name, or the longer one earlier versions of this service stored and answered.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "markdown" => Some(Self::Markdown),
            "text" => Some(Self::Text),
            _ => Self::ALL.into_iter().find(|f| f.as_str() == raw),
        }
    }

    /// The original service's kind of document, which decided how it chunked one: `document`,
    /// `presentation` or `tabular`. Its clients filter chunks by it (as their `chunkType`).
    pub fn category(self) -> &'static str {
        match self {
            Self::Pptx => "presentation",
            Self::Xlsx | Self::Csv => "tabular",
            _ => "document",
        }
    }

    /// The formats of a category; `None` for a name that is none.
    pub fn of_category(category: &str) -> Option<Vec<Self>> {
        let formats: Vec<Self> = Self::ALL
            .into_iter()
            .filter(|f| f.category() == category)
            .collect();
        (!formats.is_empty()).then_some(formats)
    }

    /// The format a file name's extension claims, if any.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(match ext {
            "pdf" => Self::Pdf,
            "docx" => Self::Docx,
            "pptx" => Self::Pptx,
            "xlsx" | "xls" => Self::Xlsx,
            "csv" => Self::Csv,
            "epub" => Self::Epub,
            "html" | "htm" | "xhtml" => Self::Html,
            "md" | "markdown" => Self::Markdown,
            "txt" | "text" => Self::Text,
            "json" => Self::Json,
            _ => return None,
        })
    }

    fn is_zip_container(self) -> bool {
        matches!(self, Self::Docx | Self::Pptx | Self::Xlsx | Self::Epub)
    }

    /// Legacy Excel files, and every password-protected DOCX, PPTX or XLSX, are OLE compound files.
    fn is_ole_container(self) -> bool {
        matches!(self, Self::Docx | Self::Pptx | Self::Xlsx)
    }
}

/// How an OLE compound file (legacy Office, encrypted OOXML) begins.
pub const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Decides the format from the first bytes and the filename together.
/// A PDF named `.docx` is a PDF; a ZIP named `.pdf` is refused rather than guessed at; a text file
/// named `.pdf` is taken at its word, so that processing reports it as a corrupt PDF.
pub fn detect(filename: &str, head: &[u8]) -> Result<Format, Error> {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let claimed = extension.as_deref().and_then(Format::from_extension);
    let invalid = |why: String| Err(Error::InvalidFormat(why));
    Ok(if head.windows(5).take(1024).any(|w| w == b"%PDF-") {
        Format::Pdf
    } else if head.starts_with(b"PK\x03\x04") {
        match claimed {
            Some(f) if f.is_zip_container() => f,
            _ => {
                return invalid(format!(
                    "{filename} is a ZIP archive but not a DOCX, PPTX, XLSX or EPUB by name"
                ));
            }
        }
    } else if head.starts_with(&OLE_MAGIC) {
        // Accepted by name: the converter tells a legacy XLS from an encrypted OOXML package.
        match claimed {
            Some(f) if f.is_ole_container() => f,
            _ => {
                return invalid(format!(
                    "{filename} is a legacy Office file but not an XLS, DOCX, PPTX or XLSX by name"
                ));
            }
        }
    } else if looks_binary(head) {
        return invalid(format!(
            "{filename} is a binary file of a kind RAGBase does not read"
        ));
    } else {
        match claimed {
            Some(f) => f,
            None if is_html(head) => Format::Html,
            None if extension.is_none() => Format::Text,
            None => return invalid(format!("{filename}: unsupported file type")),
        }
    })
}

/// Text, even in UTF-16 or with a stray NUL, has few control bytes; binary data has many.
fn looks_binary(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return false;
    }
    let sample = &head[..head.len().min(4096)];
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x09 || (0x0E..0x20).contains(&b))
        .count();
    controls * 10 > sample.len()
}

fn is_html(head: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&head[..head.len().min(512)])
        .trim_start()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_beats_the_extension() {
        assert_eq!(
            detect("report.docx", b"%PDF-1.7\n...").unwrap(),
            Format::Pdf
        );
        assert_eq!(detect("no-extension", b"%PDF-1.4").unwrap(), Format::Pdf);
        assert_eq!(
            detect("page", b"  <!DOCTYPE html><html>").unwrap(),
            Format::Html
        );
        assert_eq!(detect("notes", b"plain words").unwrap(), Format::Text);
        assert_eq!(detect("README.MD", b"# Title").unwrap(), Format::Markdown);
        assert_eq!(detect("a.htm", b"<p>hi</p>").unwrap(), Format::Html);
        assert_eq!(
            detect("corrupt.pdf", b"This is not a PDF").unwrap(),
            Format::Pdf,
            "its conversion will say so"
        );
    }

    #[test]
    fn mismatches_and_binaries_are_refused() {
        for (name, head) in [
            ("really-a-docx.pdf", &b"PK\x03\x04\x14\x00"[..]),
            ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
            ("archive.zip", b"PK\x03\x04"),
            ("data.bin", &[0u8, 1, 2, 3, 4, 5, 6, 7, 0, 0, 1, 2][..]),
        ] {
            assert!(
                matches!(detect(name, head), Err(Error::InvalidFormat(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn ole_files_are_accepted_by_an_office_name_only() {
        let ole = [&OLE_MAGIC[..], &[0; 8]].concat();
        assert_eq!(detect("budget.xls", &ole).unwrap(), Format::Xlsx);
        assert_eq!(detect("locked.docx", &ole).unwrap(), Format::Docx);
        assert_eq!(detect("locked.pptx", &ole).unwrap(), Format::Pptx);
        for name in ["letter.doc", "locked.epub", "notes.txt", "no-extension"] {
            assert!(
                matches!(detect(name, &ole), Err(Error::InvalidFormat(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn utf16_and_a_stray_nul_are_still_text() {
        assert_eq!(
            detect("a.txt", b"\xFF\xFEh\x00i\x00").unwrap(),
            Format::Text
        );
        assert_eq!(
            detect("n.md", b"# Title\n\nsome \x00 text here, mostly fine").unwrap(),
            Format::Markdown
        );
    }
}
