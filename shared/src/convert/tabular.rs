//! Tables. Rows of cells (a CSV file, a worksheet) as blocks: a small table stays a table, a large
//! one becomes sentences that name every value's column ("City: Kenai; Population: 7610"), so that
//! a chunk cut from the middle of it still says what its numbers are. And `TableText`, for tables
//! read cell by cell from markup.

use crate::domain::blocks::{Block, BlockKind};

/// Largest table kept as a table; beyond either bound, rows become sentences.
const MAX_TABLE_ROWS: usize = 50;
const MAX_TABLE_COLUMNS: usize = 12;
/// Row sentences per paragraph.
const ROWS_PER_PARAGRAPH: usize = 5;
/// Longest column name repeated in every row sentence. A longer header is said once, whole:
/// repeated, 13 headers of 4,000 characters turn a CSV under 1 MB into a gigabyte of text.
const MAX_NAME_CHARS: usize = 60;

/// `rows` as blocks; with `has_header`, the first row names the columns.
pub fn blocks(rows: Vec<Vec<String>>, has_header: bool) -> Vec<Block> {
    let rows = tidy(rows);
    let columns = rows.first().map_or(0, Vec::len);
    if rows.len() <= 1 || (rows.len() <= MAX_TABLE_ROWS && columns <= MAX_TABLE_COLUMNS) {
        let lines: Vec<String> = rows.iter().map(|row| row.join(" | ")).collect();
        return (!lines.is_empty())
            .then(|| Block::new(BlockKind::Table, lines.join("\n"), None))
            .into_iter()
            .collect();
    }
    let (header, data) = match rows.split_first() {
        Some((first, rest)) if has_header => (first.clone(), rest),
        _ => (Vec::new(), &rows[..]),
    };
    let names: Vec<String> = (0..columns)
        .map(|i| match header.get(i) {
            Some(name) if !name.is_empty() => shortened(name),
            _ => format!("Column {}", i + 1),
        })
        .collect();
    let whole_header = header
        .iter()
        .any(|name| name.chars().count() > MAX_NAME_CHARS);
    let header_block = whole_header.then(|| Block::new(BlockKind::Table, header.join(" | "), None));
    let rows = data.chunks(ROWS_PER_PARAGRAPH).map(|group| {
        let sentences: Vec<String> = group
            .iter()
            .map(|row| {
                names
                    .iter()
                    .zip(row)
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(name, value)| format!("{name}: {value}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .collect();
        Block::new(BlockKind::Paragraph, sentences.join("\n"), None)
    });
    header_block.into_iter().chain(rows).collect()
}

fn shortened(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

/// A table read cell by cell (DOCX, PPTX) as `a | b` lines: whitespace in a cell collapses, so a
/// row stays one line, and rows without text are left out.
#[derive(Default)]
pub struct TableText {
    lines: Vec<String>,
    row: Vec<String>,
    cell: String,
}

impl TableText {
    pub fn start_row(&mut self) {
        self.row.clear();
    }

    pub fn start_cell(&mut self) {
        self.cell.clear();
    }

    /// Adds a paragraph, or a nested table flattened, to the current cell.
    pub fn add(&mut self, text: &str) {
        if !self.cell.is_empty() {
            self.cell.push(' ');
        }
        self.cell.push_str(text);
    }

    pub fn end_cell(&mut self) {
        let cell = std::mem::take(&mut self.cell);
        self.row.push(collapse(&cell));
    }

    pub fn end_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        if row.iter().any(|cell| !cell.is_empty()) {
            self.lines.push(row.join(" | "));
        }
    }

    /// The table as a block, unless it holds no text.
    pub fn finish(self) -> Option<Block> {
        (!self.lines.is_empty()).then(|| Block::new(BlockKind::Table, self.lines.join("\n"), None))
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One line per cell, rows of equal width, and no empty rows or columns.
fn tidy(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| collapse(cell)).collect::<Vec<_>>())
        .filter(|row| row.iter().any(|cell| !cell.is_empty()))
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let used: Vec<usize> = (0..width)
        .filter(|&c| {
            rows.iter()
                .any(|row| row.get(c).is_some_and(|v| !v.is_empty()))
        })
        .collect();
    rows.into_iter()
        .map(|row| {
            used.iter()
                .map(|&c| row.get(c).cloned().unwrap_or_default())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|row| row.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn small_tables_stay_tables_without_empty_rows_or_columns() {
        let rows = grid(&[
            &["Name", "", "Age"],
            &["", "", ""],
            &["Ann\nLee", "", "42"],
            &["Bob"],
        ]);
        assert_eq!(
            blocks(rows, true),
            [Block::new(
                BlockKind::Table,
                "Name | Age\nAnn Lee | 42\nBob | ",
                None
            )]
        );
        assert!(blocks(grid(&[&["", ""]]), true).is_empty());
    }

    #[test]
    fn large_tables_become_row_sentences_named_by_the_header() {
        let mut rows = grid(&[&["City", "", "Population"]]);
        rows.extend((0..60).map(|i| vec![format!("Town {i}"), "x".into(), i.to_string()]));
        rows[3][2].clear();
        let out = blocks(rows, true);
        assert_eq!(out.len(), 12, "60 rows, 5 a paragraph");
        assert!(out.iter().all(|b| b.kind == BlockKind::Paragraph));
        assert_eq!(
            out[0].text,
            "City: Town 0; Column 2: x; Population: 0\n\
             City: Town 1; Column 2: x; Population: 1\n\
             City: Town 2; Column 2: x\n\
             City: Town 3; Column 2: x; Population: 3\n\
             City: Town 4; Column 2: x; Population: 4"
        );
    }

    #[test]
    fn long_column_names_are_said_once_whole_and_shortened_in_the_rows() {
        let long = "Q".repeat(4000);
        let mut rows = grid(&[&[&long, "Short"]]);
        rows.extend((0..60).map(|i| vec![i.to_string(), "v".into()]));
        let out = blocks(rows, true);
        assert_eq!(
            out[0],
            Block::new(BlockKind::Table, format!("{long} | Short"), None)
        );
        let first_row = out[1].text.lines().next().unwrap();
        assert_eq!(
            first_row,
            format!("{}…: 0; Short: v", "Q".repeat(MAX_NAME_CHARS))
        );
        let text: usize = out.iter().map(|b| b.text.len()).sum();
        assert!(text < 4000 + 60 * 100, "{text} bytes");
    }

    #[test]
    fn tables_read_cell_by_cell() {
        let mut table = TableText::default();
        for row in [&["a", "b\n c"][..], &["", ""], &["d", ""]] {
            table.start_row();
            for cell in row {
                table.start_cell();
                table.add(cell);
                table.add("");
                table.end_cell();
            }
            table.end_row();
        }
        assert_eq!(
            table.finish(),
            Some(Block::new(BlockKind::Table, "a | b c\nd | ", None))
        );
        assert_eq!(TableText::default().finish(), None);
    }

    #[test]
    fn without_a_header_columns_are_numbered() {
        let rows: Vec<Vec<String>> = (0..51).map(|i| vec![format!("v{i}")]).collect();
        let out = blocks(rows, false);
        assert!(out[0].text.starts_with("Column 1: v0\nColumn 1: v1"));
    }
}
