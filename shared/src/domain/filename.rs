//! Upload filenames: shown to users and echoed in APIs, never used as a path.

use crate::Error;

const MAX_BYTES: usize = 255;

/// Characters that change how a name reads without being seen: bidirectional overrides and
/// isolates (`invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`), and zero-width ones.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Accepts a plain file name; refuses paths, control and invisible characters, and names that
/// are only dots.
pub fn validate_filename(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    let why = if name.is_empty() {
        Some("the filename is empty")
    } else if name.len() > MAX_BYTES {
        Some("the filename is longer than 255 bytes")
    } else if name.contains(['/', '\\']) {
        Some("the filename contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("the filename contains control characters")
    } else if name.chars().any(is_invisible) {
        Some("the filename contains invisible or direction-changing characters")
    } else if name.chars().all(|c| c == '.') {
        Some("the filename is only dots")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::InvalidFilename(why.into())),
        None => Ok(name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_hostile_ones_do_not() {
        assert_eq!(
            validate_filename("  Annual report (2026).pdf ").unwrap(),
            "Annual report (2026).pdf"
        );
        assert_eq!(validate_filename("東京.txt").unwrap(), "東京.txt");
        for bad in [
            "",
            "   ",
            "../../etc/passwd",
            "a\\b.txt",
            "..",
            "x\u{0}.pdf",
            "new\nline.md",
            "invoice\u{202E}fdp.exe",
            "report\u{200B}.pdf",
            "\u{FEFF}notes.txt",
            "a\u{2066}b\u{2069}.md",
            &"a".repeat(256),
        ] {
            assert!(
                matches!(validate_filename(bad), Err(Error::InvalidFilename(_))),
                "{bad:?}"
            );
        }
    }
}
