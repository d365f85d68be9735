//! Upload filenames: shown to users and echoed in APIs, never used as a path.

use crate::Error;

const MAX_BYTES: usize = 255;

/// Accepts a plain file name; refuses paths, control characters and names that are only dots.
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
            &"a".repeat(256),
        ] {
            assert!(
                matches!(validate_filename(bad), Err(Error::InvalidFilename(_))),
                "{bad:?}"
            );
        }
    }
}
