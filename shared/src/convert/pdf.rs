//! PDF: the text layer, page by page. Encrypted files open when their user password is empty.

use pdf_oxide::PdfDocument;

use crate::domain::{
    blocks::{Block, BlockKind},
    failure::{Failure, FailureCode},
};

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    let locked = || {
        Failure::new(
            FailureCode::PasswordProtected,
            "the PDF needs a password to open",
        )
    };
    let document = match PdfDocument::from_bytes(bytes.to_vec()) {
        Ok(document) => document,
        Err(pdf_oxide::Error::EncryptedPdf) => return Err(locked()),
        Err(e) => {
            return Err(Failure::new(
                FailureCode::CorruptFile,
                format!("not a readable PDF: {e}"),
            ));
        }
    };
    if document.is_encrypted() && !document.is_authenticated() {
        return Err(locked());
    }
    let pages = document.page_count().map_err(|e| {
        Failure::new(
            FailureCode::CorruptFile,
            format!("the PDF's page tree is unreadable: {e}"),
        )
    })?;
    let mut blocks = Vec::new();
    let mut unreadable = 0;
    for index in 0..pages {
        let page = u32::try_from(index + 1).ok();
        match document.extract_text(index) {
            Ok(text) => blocks.extend(
                paragraphs(&text)
                    .into_iter()
                    .map(|p| Block::new(BlockKind::Paragraph, p, page)),
            ),
            Err(pdf_oxide::Error::EncryptedPdf) => return Err(locked()),
            Err(e) => {
                tracing::warn!(page = index + 1, error = %e, "PDF page skipped");
                unreadable += 1;
            }
        }
    }
    if pages > 0 && unreadable == pages {
        return Err(Failure::new(
            FailureCode::CorruptFile,
            "no page of the PDF could be read",
        ));
    }
    if !blocks
        .iter()
        .any(|b| b.text.chars().any(char::is_alphanumeric))
    {
        return Err(Failure::new(
            FailureCode::NoTextLayer,
            format!(
                "none of the {pages} pages has a text layer (scanned images?); OCR is not supported"
            ),
        ));
    }
    Ok(blocks)
}

/// Lines of a page joined into paragraphs: a blank line ends one, and a word hyphenated across
/// a line break is joined again.
fn paragraphs(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in page.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let continues_word = current.ends_with('-')
            && current
                .chars()
                .rev()
                .nth(1)
                .is_some_and(char::is_alphabetic)
            && line.chars().next().is_some_and(char::is_lowercase);
        let unspaced_script = current.chars().last().is_some_and(is_unspaced)
            && line.chars().next().is_some_and(is_unspaced);
        if continues_word {
            current.pop();
        } else if !current.is_empty() && !unspaced_script {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Scripts written without spaces between words (Chinese, Japanese, Thai): a line break inside
/// them joins with nothing.
fn is_unspaced(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{FF00}'..='\u{FFEF}' | '\u{0E00}'..='\u{0E7F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_into_paragraphs_and_hyphenation_is_undone() {
        let page =
            "The quick brown fox jum-\nped over the\nlazy dog.\n\nSecond para-\nGraph stays.\n";
        assert_eq!(
            paragraphs(page),
            [
                "The quick brown fox jumped over the lazy dog.",
                "Second para- Graph stays."
            ]
        );
    }

    #[test]
    fn garbage_is_a_corrupt_file() {
        assert_eq!(
            convert(b"%PDF-1.4\nnonsense").unwrap_err().code,
            FailureCode::CorruptFile
        );
    }
}
