//! XLSX and legacy XLS, read by calamine: each sheet under a heading with its name, its cells
//! rendered by `tabular` (the first row as the header). A merged cell's value is carried to every
//! cell it covers, so each row keeps its label.

use std::io::Cursor;

use calamine::{Data, Dimensions, Range, Reader, Xls, Xlsx, open_workbook_from_rs};

use super::{archive::Archive, ooxml, tabular};
use crate::domain::{
    blocks::{Block, BlockKind},
    failure::{Failure, FailureCode},
    formats::OLE_MAGIC,
};

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    if bytes.starts_with(&OLE_MAGIC) {
        if ooxml::holds_encrypted_package(bytes) {
            return Err(ooxml::password_protected("Excel"));
        }
        let workbook: Xls<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| match e {
            calamine::XlsError::Password => ooxml::password_protected("Excel"),
            e => unreadable(&e),
        })?;
        return sheets(workbook, |workbook, name| {
            workbook.merge_cells_by_sheet_name(name).unwrap_or_default()
        });
    }
    // calamine inflates the zip itself, with no limit: a bomb must fail here first.
    Archive::open(bytes)?.inflate_all()?;
    let workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    sheets(workbook, |workbook, name| {
        workbook.merge_cells_by_sheet_name(name).unwrap_or_default()
    })
}

fn unreadable(e: &dyn std::fmt::Display) -> Failure {
    Failure::new(
        FailureCode::CorruptFile,
        format!("not a readable workbook: {e}"),
    )
}

/// Every sheet in workbook order; one that cannot be read is skipped.
fn sheets<'a, W>(
    mut workbook: W,
    merged: impl Fn(&mut W, &str) -> Vec<Dimensions>,
) -> Result<Vec<Block>, Failure>
where
    W: Reader<Cursor<&'a [u8]>>,
    W::Error: std::fmt::Display,
{
    let mut blocks = Vec::new();
    for name in workbook.sheet_names() {
        let range = match workbook.worksheet_range(&name) {
            Ok(range) => range,
            Err(e) => {
                tracing::warn!(sheet = %name, error = %e, "worksheet skipped");
                continue;
            }
        };
        let rows = grid(&range, &merged(&mut workbook, &name));
        let sheet = tabular::blocks(rows, true);
        if !sheet.is_empty() {
            blocks.push(Block::new(BlockKind::Heading(1), name, None));
            blocks.extend(sheet);
        }
    }
    Ok(blocks)
}

/// The used range as text, merged values carried to the covered cells within it.
fn grid(range: &Range<Data>, merged: &[Dimensions]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect();
    let (Some((top, left)), Some((bottom, right))) = (range.start(), range.end()) else {
        return rows;
    };
    for region in merged {
        let Some(value) = range.get_value(region.start).map(cell_text) else {
            continue;
        };
        // Only the part inside the used range: beyond it there is nothing to label.
        for row in region.start.0.max(top)..=region.end.0.min(bottom) {
            for column in region.start.1.max(left)..=region.end.1.min(right) {
                let cell = rows
                    .get_mut((row - top) as usize)
                    .and_then(|cells| cells.get_mut((column - left) as usize));
                if let Some(cell) = cell.filter(|c| c.is_empty()) {
                    cell.clone_from(&value);
                }
            }
        }
    }
    rows
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::DateTime(moment) if moment.is_duration() => {
            let seconds = (moment.as_f64() * 86_400.0).round();
            let sign = if seconds < 0.0 { "-" } else { "" };
            let seconds = seconds.abs() as u64;
            format!(
                "{sign}{}:{:02}:{:02}",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60
            )
        }
        Data::DateTime(moment) => {
            let (year, month, day, hour, minute, second, _) = moment.to_ymd_hms_milli();
            let time = format!("{hour:02}:{minute:02}:{second:02}");
            if moment.as_f64() < 1.0 {
                time
            } else if (hour, minute, second) == (0, 0, 0) {
                format!("{year:04}-{month:02}-{day:02}")
            } else {
                format!("{year:04}-{month:02}-{day:02} {time}")
            }
        }
        // `#DIV/0!` and its kind say nothing about the content.
        Data::Error(_) => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::testing::{sample, view};

    #[test]
    fn merged_values_reach_the_cells_they_cover_within_the_used_range() {
        // Sheet1 is empty; Sheet4 merges A1:B1 (Foo), C2:E6 (Baz) and A3:A20 (Bar).
        let blocks = convert(&sample("documents/xlsx/merged_cells.xlsx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Heading(1), "Sheet2"),
                (BlockKind::Table, "Foo"),
                (BlockKind::Heading(1), "Sheet3"),
                (BlockKind::Table, "Foo | Foo | Bar\nBaz | Baz | Boo"),
                (BlockKind::Heading(1), "Sheet4"),
                (BlockKind::Table, "Foo | Foo | \n |  | Baz\nBar |  | Baz"),
            ]
        );
    }

    #[test]
    fn sheets_are_headed_by_their_names() {
        let blocks = convert(&sample("documents/xlsx/google.xlsx")).unwrap();
        assert_eq!(
            view(&blocks),
            [
                (BlockKind::Heading(1), "シート1"),
                (BlockKind::Table, "TEST | \n | TEST"),
                (BlockKind::Heading(1), "シート2"),
                (BlockKind::Table, "dddD | \n | DDDD"),
            ]
        );
        // A locked workbook structure is not encryption: the cells read as usual.
        let locked = convert(&sample("documents/xlsx/book_lock.xlsx")).unwrap();
        assert_eq!(locked[1].text, "パスワードは「password」");
    }

    #[test]
    fn legacy_xls_is_read_too() {
        let blocks = convert(&sample("documents/xlsx/profiles.xls")).unwrap();
        assert_eq!(
            blocks[0],
            Block::new(BlockKind::Heading(1), "PROFILEDEF", None)
        );
        assert!(
            blocks[1]
                .text
                .starts_with("PROFIL: P8.2; a: 100; b: 101; c: 102;"),
            "13 columns: row sentences, not a table"
        );
        let axes = blocks.iter().position(|b| b.text == "AXISDEF").unwrap();
        assert_eq!(blocks[axes + 1].kind, BlockKind::Table);
        assert!(
            blocks[axes + 1]
                .text
                .starts_with("PROFIL | i | d\nP8.2 | 1 | 100\n")
        );
    }

    #[test]
    fn large_sheets_become_row_sentences() {
        // Its part names are lower case ("xl/sharedstrings.xml").
        let blocks = convert(&sample("documents/xlsx/issue150.xlsx")).unwrap();
        assert_eq!(blocks[0].text, "FAM");
        assert!(
            blocks[1]
                .text
                .starts_with("Cycle: 1; A1: 11698.2415270953; A2: 10700.2063482;"),
            "{}",
            blocks[1].text
        );
        assert!(blocks.iter().any(|b| b.text == "VIC"));

        let big = convert(&sample("documents/xlsx/aaa_large_string.xlsx")).unwrap();
        assert_eq!(
            big.len(),
            1 + 2998 / 5 + 1,
            "a heading, then 2998 rows 5 a paragraph"
        );
        assert!(
            big[1]
                .text
                .starts_with("TEST-A-1: TEST2; TEST-B-1: TEST-B-2;")
        );
    }

    #[test]
    fn encrypted_bombed_and_broken_files_fail_cleanly() {
        let stream: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let encrypted = [&OLE_MAGIC[..], &[0; 500], &stream].concat();
        assert_eq!(
            convert(&encrypted).unwrap_err().code,
            FailureCode::PasswordProtected
        );
        let bomb = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/hostile/bomb-200mb.docx"
        ))
        .unwrap();
        let started = std::time::Instant::now();
        assert_eq!(convert(&bomb).unwrap_err().code, FailureCode::FileTooLarge);
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
        let garbage = [&OLE_MAGIC[..], &[0; 600]].concat();
        assert_eq!(
            convert(&garbage).unwrap_err().code,
            FailureCode::CorruptFile
        );
        let docx = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/documents/docx/tables.docx"
        ))
        .unwrap();
        assert_eq!(convert(&docx).unwrap_err().code, FailureCode::CorruptFile);
    }

    #[test]
    fn dates_times_and_durations_read_as_people_write_them() {
        use calamine::{
            ExcelDateTime,
            ExcelDateTimeType::{DateTime, TimeDelta},
        };
        let cell = |value, kind| cell_text(&Data::DateTime(ExcelDateTime::new(value, kind, false)));
        assert_eq!(cell(45943.0, DateTime), "2025-10-13");
        assert_eq!(cell(45943.5, DateTime), "2025-10-13 12:00:00");
        assert_eq!(cell(0.75, DateTime), "18:00:00");
        assert_eq!(cell(1.5, TimeDelta), "36:00:00");
        assert_eq!(cell_text(&Data::Float(2.5)), "2.5");
        assert_eq!(cell_text(&Data::Error(calamine::CellErrorType::Div0)), "");
    }
}
