//! Raw bytes and extracted text made clean: one encoding, one normal form, no control characters.

use unicode_normalization::UnicodeNormalization;

/// Decodes a text file: a BOM decides when present, then UTF-8 when valid, then the likeliest
/// legacy encoding (Latin-1, Shift_JIS, …) as a browser would guess it.
pub fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector
        .guess(None, chardetng::Utf8Detection::Allow)
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// NFKC (ligatures, full-width forms), `\n` line ends, no control characters but tab and newline,
/// no trailing spaces, at most one blank line in a row.
pub fn clean(text: &str) -> String {
    let normalised: String = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .nfkc()
        .collect();
    let mut out = String::with_capacity(normalised.len());
    let mut blank_run = 0;
    for line in normalised.split('\n') {
        let line: String = line
            .chars()
            .map(|c| if c == '\t' || c == '\u{a0}' { ' ' } else { c })
            .filter(|c| !c.is_control() && *c != '\u{feff}')
            .collect();
        let line = line.trim_end();
        blank_run = if line.trim().is_empty() {
            blank_run + 1
        } else {
            0
        };
        if blank_run <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_boms_utf8_and_legacy_encodings() {
        assert_eq!(decode(b"\xEF\xBB\xBFhello"), "hello");
        assert_eq!(decode(b"\xFF\xFEh\x00\xe9\x00"), "hé");
        assert_eq!(decode("naïve café".as_bytes()), "naïve café");
        assert_eq!(
            decode(b"na\xefve caf\xe9 cr\xe8me br\xfbl\xe9e"),
            "naïve café crème brûlée"
        );
    }

    #[test]
    fn cleans_controls_line_ends_and_compatibility_forms() {
        assert_eq!(
            clean("ﬁne\r\nＡＢＣ１２３\u{0}\u{7}x\t y  \n\n\n\nnext"),
            "fine\nABC123x  y\n\nnext"
        );
        assert_eq!(
            clean("  \n東京は日本の首都です。\n"),
            "東京は日本の首都です。"
        );
    }
}
