//! The one zip reader behind DOCX, PPTX, XLSX and EPUB. Its threat is the zip bomb: a few hundred
//! kilobytes that inflate to gigabytes. Entries are counted, and every byte actually inflated is
//! charged to one budget for the whole file. An entry that declares more than the budget left
//! fails before any work; the count holds where a declared size is missing or false.

use std::io::{Cursor, Read, Write};

use zip::{ZipArchive, result::ZipError};

use crate::domain::failure::{Failure, FailureCode};

/// Far more parts than any real document has.
const MAX_ENTRIES: usize = 10_000;
/// Inflated bytes read from one file, all entries together. Real documents within the upload limit
/// stay well below it (the largest sample spreadsheet inflates to 26 MiB); the 200 MiB bomb does not.
const MAX_INFLATED_BYTES: u64 = 128 << 20;

pub struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    /// Entry names, by index.
    names: Vec<String>,
    /// Inflated bytes still allowed, of `limit` at the start.
    budget: u64,
    limit: u64,
}

impl<'a> Archive<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Self, Failure> {
        Self::with_limits(bytes, MAX_ENTRIES, MAX_INFLATED_BYTES)
    }

    fn with_limits(bytes: &'a [u8], max_entries: usize, limit: u64) -> Result<Self, Failure> {
        if bytes.is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        let zip = ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| corrupt(format!("not a readable zip archive: {e}")))?;
        if zip.len() > max_entries {
            return Err(Failure::new(
                FailureCode::FileTooLarge,
                format!(
                    "the archive holds {} entries; at most {max_entries} are read",
                    zip.len()
                ),
            ));
        }
        let names = zip
            .file_names()
            .map(|name| name.map(|n| n.into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(format!("unreadable entry name: {e}")))?;
        Ok(Self {
            zip,
            names,
            budget: limit,
            limit,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// An entry's bytes, or `None` when there is no such entry. Names match exactly or, as OOXML
    /// part names do, ignoring ASCII case.
    pub fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let index = self
            .names
            .iter()
            .position(|n| n == name)
            .or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(name)));
        let Some(index) = index else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        self.inflate(index, &mut bytes)?;
        Ok(Some(bytes))
    }

    /// An entry as text: a BOM decides the encoding, else UTF-8 (as XML parts are written).
    pub fn read_text(&mut self, name: &str) -> Result<Option<String>, Failure> {
        Ok(self
            .read(name)?
            .map(|bytes| crate::domain::text::decode(&bytes)))
    }

    /// Inflates every entry without keeping any, so that a bomb anywhere in the archive fails here,
    /// before a parser that reads the zip on its own is given the bytes.
    pub fn inflate_all(&mut self) -> Result<(), Failure> {
        (0..self.names.len()).try_for_each(|index| self.inflate(index, &mut std::io::sink()))
    }

    fn inflate(&mut self, index: usize, sink: &mut impl Write) -> Result<(), Failure> {
        let name = &self.names[index];
        let mut entry = self.zip.by_index(index).map_err(|e| match e {
            ZipError::InvalidPassword
            | ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => Failure::new(
                FailureCode::PasswordProtected,
                "the archive is encrypted with a password",
            ),
            ZipError::CompressionMethodNotSupported(method) => Failure::new(
                FailureCode::UnsupportedFormat,
                format!("{name} is compressed with zip method {method}, which is not supported"),
            ),
            e => corrupt(format!("{name} cannot be read: {e}")),
        })?;
        let too_large = || {
            Failure::new(
                FailureCode::FileTooLarge,
                format!(
                    "the archive inflates to more than {} MiB (a zip bomb?)",
                    self.limit >> 20
                ),
            )
        };
        if entry.size() > self.budget {
            return Err(too_large());
        }
        // One byte past the budget is enough to know it is exceeded.
        let inflated = std::io::copy(&mut (&mut entry).take(self.budget + 1), sink)
            .map_err(|e| corrupt(format!("{name} cannot be inflated: {e}")))?;
        if inflated > self.budget {
            return Err(too_large());
        }
        self.budget -= inflated;
        Ok(())
    }
}

/// The archive path that `href` points to from the part `base`: relative to the base's folder, or
/// to the root when it starts with `/`; `%20`-style escapes decoded, any `#fragment` or `?query`
/// dropped. OOXML relationship targets and EPUB hrefs both resolve this way.
pub fn resolve(base: &str, href: &str) -> String {
    let href = href.find(['#', '?']).map_or(href, |end| &href[..end]);
    let href = percent_decode(href);
    let mut path: Vec<&str> = match base.rsplit_once('/') {
        Some((folder, _)) if !href.starts_with('/') => folder.split('/').collect(),
        _ => Vec::new(),
    };
    for segment in href.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                path.pop();
            }
            name => path.push(name),
        }
    }
    path.join("/")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn corrupt(message: String) -> Failure {
    Failure::new(FailureCode::CorruptFile, message)
}

/// Builds zips in memory for the converters' tests.
#[cfg(test)]
pub(crate) fn zip_of(parts: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in parts {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(content.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const BOMB: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/hostile/bomb-200mb.docx"
    );

    #[test]
    fn entries_are_read_by_name_as_bytes_or_text() {
        let bytes = zip_of(&[("word/document.xml", "<w:document/>"), ("a/B.txt", "b")]);
        let mut archive = Archive::open(&bytes).unwrap();
        assert_eq!(
            archive.names().collect::<Vec<_>>(),
            ["word/document.xml", "a/B.txt"]
        );
        assert_eq!(
            archive.read_text("word/document.xml").unwrap().as_deref(),
            Some("<w:document/>")
        );
        assert_eq!(archive.read("A/b.TXT").unwrap(), Some(b"b".to_vec()));
        assert_eq!(archive.read("missing.xml").unwrap(), None);
    }

    #[test]
    fn the_bomb_sample_fails_fast_as_too_large() {
        let bytes = std::fs::read(BOMB).unwrap();
        let started = Instant::now();
        let mut archive = Archive::open(&bytes).unwrap();
        let failure = archive.read("word/document.xml").unwrap_err();
        assert_eq!(failure.code, FailureCode::FileTooLarge, "{failure}");
        assert!(failure.message.contains("128 MiB"), "{failure}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn inflation_stays_bounded_when_declared_sizes_lie() {
        let zeros = "0".repeat(1 << 20);
        let mut bytes = zip_of(&[("a.xml", &zeros), ("b.xml", "small")]);
        // Declare the megabyte entry as 10 bytes, in its local header and in the central directory.
        for (signature, size_at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = bytes.windows(4).position(|w| w == signature).unwrap() + size_at;
            bytes[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
        }
        let mut archive = Archive::with_limits(&bytes, 10, 64 << 10).unwrap();
        let failure = archive.read("a.xml").unwrap_err();
        assert_eq!(failure.code, FailureCode::CorruptFile, "{failure}");
        assert!(failure.message.contains("declared"), "{failure}");
    }

    #[test]
    fn the_budget_is_for_the_whole_archive() {
        let zeros = "0".repeat(1 << 20);
        let bytes = zip_of(&[("a.xml", &zeros), ("b.xml", &zeros)]);
        let mut archive = Archive::with_limits(&bytes, 10, 3 << 19).unwrap();
        assert!(archive.read("a.xml").unwrap().is_some());
        assert_eq!(
            archive.read("b.xml").unwrap_err().code,
            FailureCode::FileTooLarge
        );
        let mut archive = Archive::with_limits(&bytes, 10, 3 << 19).unwrap();
        assert_eq!(
            archive.inflate_all().unwrap_err().code,
            FailureCode::FileTooLarge
        );
        let mut archive = Archive::with_limits(&bytes, 10, 2 << 20).unwrap();
        assert!(archive.inflate_all().is_ok());
    }

    #[test]
    fn too_many_entries_are_refused() {
        let parts: Vec<(String, &str)> = (0..11).map(|i| (format!("{i}.xml"), "x")).collect();
        let parts: Vec<(&str, &str)> = parts.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let failure = Archive::with_limits(&zip_of(&parts), 10, 1 << 20)
            .err()
            .unwrap();
        assert_eq!(failure.code, FailureCode::FileTooLarge);
        assert!(failure.message.contains("11 entries"), "{failure}");
    }

    #[test]
    fn broken_or_empty_files_are_corrupt() {
        for path in ["empty.docx", "truncated.docx", "really-a-pdf.docx"] {
            let bytes = std::fs::read(format!(
                "{}/../../shared/data/hostile/{path}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            let failure = Archive::open(&bytes).err().unwrap();
            assert_eq!(failure.code, FailureCode::CorruptFile, "{path}: {failure}");
        }
    }

    #[test]
    fn hrefs_resolve_against_the_part_folder() {
        assert_eq!(
            resolve("word/document.xml", "media/image1.png"),
            "word/media/image1.png"
        );
        assert_eq!(
            resolve("ppt/slides/slide1.xml", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(
            resolve("ppt/presentation.xml", "/ppt/slides/slide2.xml"),
            "ppt/slides/slide2.xml"
        );
        assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
        assert_eq!(
            resolve("EPUB/book.opf", "../file%20name%20with%20spaces.css"),
            "file name with spaces.css"
        );
        assert_eq!(
            resolve("toc.ncx", "EPUB/c1.xhtml?q=1#start"),
            "EPUB/c1.xhtml"
        );
        assert_eq!(resolve("a/b.xml", "100%.xml"), "a/100%.xml");
    }
}
