//! Is the extracted text worth indexing? Judged the same way in every script: letters and digits
//! of any alphabet count as content, so CJK, Arabic or Cyrillic text is never "noise".

use super::failure::{Failure, FailureCode};

/// Fewer letters and digits than this is not a document worth searching.
const MIN_CONTENT_CHARS: usize = 20;
/// Below this share of letters and digits among visible characters, the text is mostly debris.
const MIN_CONTENT_SHARE: f64 = 0.3;
/// Above this share of replacement or private-use characters, decoding has failed.
const MAX_GARBLED_SHARE: f64 = 0.1;

/// Judges the texts as one, in one pass and without copying them: a document's text can be
/// tens of megabytes.
pub fn check<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<(), Failure> {
    let (mut visible, mut content, mut garbled) = (0usize, 0usize, 0usize);
    for c in texts
        .into_iter()
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
    {
        visible += 1;
        content += usize::from(c.is_alphanumeric());
        garbled += usize::from(c == '\u{fffd}' || ('\u{e000}'..='\u{f8ff}').contains(&c));
    }
    if content < MIN_CONTENT_CHARS {
        return Err(Failure::new(
            FailureCode::TextTooShort,
            format!(
                "only {content} letters or digits of text were found; at least {MIN_CONTENT_CHARS} are needed"
            ),
        ));
    }
    let share = |n: usize| n as f64 / visible as f64;
    if share(garbled) > MAX_GARBLED_SHARE || share(content) < MIN_CONTENT_SHARE {
        return Err(Failure::new(
            FailureCode::ExcessiveNoise,
            format!(
                "{:.0}% of the text is letters or digits and {:.0}% is undecodable",
                share(content) * 100.0,
                share(garbled) * 100.0
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Option<FailureCode> {
        check([text]).err().map(|f| f.code)
    }

    #[test]
    fn every_script_is_content() {
        assert_eq!(
            code("東京は日本の首都です。大阪は商業の中心地として知られています。"),
            None
        );
        assert_eq!(
            code("الذكاء الاصطناعي يغير العالم من حولنا بسرعة كبيرة"),
            None
        );
        assert_eq!(
            code("Москва — столица России, крупнейший город страны."),
            None
        );
        assert_eq!(
            code("fn main() { println!(\"hello {}\", 40 + 2); } // prints the answer"),
            None
        );
    }

    #[test]
    fn short_and_garbled_texts_fail_with_their_codes() {
        assert_eq!(code("Hi there"), Some(FailureCode::TextTooShort));
        assert_eq!(code(""), Some(FailureCode::TextTooShort));
        let garbled = format!("readable words here and there {}", "\u{fffd}".repeat(40));
        assert_eq!(code(&garbled), Some(FailureCode::ExcessiveNoise));
        let debris = format!("there are some real words in it {}", "#$%&*@!~^".repeat(20));
        assert_eq!(code(&debris), Some(FailureCode::ExcessiveNoise));
    }
}
