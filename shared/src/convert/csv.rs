//! CSV and its cousins: the encoding is detected as for text, the delimiter (`,` `;` tab `|`) by
//! which one splits the first records most consistently, and the first row is taken as a header
//! unless it holds numbers or blanks. Quoted fields may span lines.

use ::csv::{ReaderBuilder, StringRecord};

use super::tabular;
use crate::domain::{
    blocks::Block,
    failure::{Failure, FailureCode},
    text::decode,
};

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records looked at to choose the delimiter.
const SAMPLE_RECORDS: usize = 20;

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    let text = decode(bytes).replace('\0', "");
    let delimiter = delimiter(&text);
    let rows: Vec<Vec<String>> = records(&text, delimiter)
        .map(|record| {
            record
                .map(|r| r.iter().map(str::to_owned).collect())
                .map_err(|e| Failure::new(FailureCode::CorruptFile, format!("unreadable CSV: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let has_header = rows.len() > 1 && rows[0].iter().all(|c| is_label(c));
    Ok(tabular::blocks(rows, has_header))
}

fn records(text: &str, delimiter: u8) -> impl Iterator<Item = ::csv::Result<StringRecord>> {
    ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        // Some writers escape quotes with a backslash instead of doubling them.
        .escape(text.contains("\\\"").then_some(b'\\'))
        .from_reader(text.as_bytes())
        .into_records()
}

/// The delimiter that gives the most records of one width (two fields or more) in the sample;
/// a comma when none splits anything.
fn delimiter(text: &str) -> u8 {
    DELIMITERS
        .into_iter()
        .enumerate()
        .filter_map(|(preference, delimiter)| {
            let widths: Vec<usize> = records(text, delimiter)
                .take(SAMPLE_RECORDS)
                .map_while(Result::ok)
                .map(|r| r.len())
                .collect();
            let width = *widths
                .iter()
                .max_by_key(|&&w| widths.iter().filter(|&&v| v == w).count())?;
            let agreeing = widths.iter().filter(|&&w| w == width).count();
            (width > 1).then_some(((agreeing, width, usize::MAX - preference), delimiter))
        })
        .max()
        .map_or(b',', |(_, delimiter)| delimiter)
}

/// A header cell names something: it is neither blank nor a number.
fn is_label(cell: &str) -> bool {
    let cell = cell.trim();
    !cell.is_empty() && cell.parse::<f64>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::testing::sample;
    use crate::domain::blocks::BlockKind;

    #[test]
    fn a_small_file_is_a_table_with_its_header_first() {
        let blocks = convert(&sample("documents/csv/smallpop.csv")).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind, BlockKind::Table);
        let lines: Vec<&str> = blocks[0].text.lines().collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[0], "city | region | country | population");
        assert_eq!(lines[10], "Concord | NH | United States | 42605");
    }

    #[test]
    fn a_large_file_becomes_row_sentences_in_any_encoding() {
        for path in ["uspop.csv", "uspop-latin1.csv", "uspop-null.csv"] {
            let blocks = convert(&sample(&format!("documents/csv/{path}"))).unwrap();
            assert_eq!(blocks.len(), 20, "{path}: 100 rows, 5 a paragraph");
            assert!(
                blocks[0].text.starts_with(
                    "City: Davidsons Landing; State: AK; Latitude: 65.2419444; Longitude: -165.2716667\n\
                     City: Kenai; State: AK; Population: 7610;"
                ),
                "{path}: {}",
                blocks[0].text
            );
        }
        let latin1 = convert(&sample("documents/csv/uspop-latin1.csv")).unwrap();
        assert!(latin1[0].text.contains("City: Õakman; State: AL"));
    }

    #[test]
    fn semicolons_backslash_escapes_and_ragged_rows() {
        let blocks = convert(&sample("documents/csv/strange.csv")).unwrap();
        let lines: Vec<&str> = blocks[0].text.lines().collect();
        assert_eq!(
            lines[0], "\"Hacksaw\" Jim Duggan | 1987",
            "no header: a year"
        );
        assert_eq!(lines[3], "Rafael Halperin | ");
        assert_eq!(lines[6], "Jake \"The Snake\" Roberts | 1986");
    }

    #[test]
    fn a_bom_crlf_and_quoted_newlines() {
        let blocks = convert(&sample("hostile/bom-crlf.csv")).unwrap();
        assert_eq!(
            blocks[0].text,
            "id | text\n1 | multi line, with comma\n2 | quote \" inside"
        );
    }

    #[test]
    fn delimiters_are_chosen_by_consistency() {
        assert_eq!(delimiter("a;b;c\n1,5;2;3\n4;5,5;6\n"), b';');
        assert_eq!(delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(delimiter("a|b|c\n1|2|3\n"), b'|');
        assert_eq!(delimiter("just one column\nof words\n"), b',');
        let nul = convert(b"name,age\nAnn,4\x002\n").unwrap();
        assert_eq!(nul[0].text, "name | age\nAnn | 42");
        assert!(convert(b"").unwrap().is_empty());
    }
}
