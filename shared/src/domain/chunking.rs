//! Heading-aware chunking bounded by the embedding model's token limit.
//!
//! The blocks are rendered as one Markdown document; every chunk is an exact slice of it, so its
//! character offsets point at its source. A heading closes the current chunk and opens a new one
//! whose breadcrumbs (`Guide > Install > Linux`) give it context. Inside a section, sentences
//! (lines for code and tables) are packed up to the limit, and a chunk closed for size hands its
//! last sentences on to the next as overlap.

use unicode_segmentation::UnicodeSegmentation;

use super::{
    blocks::{Block, BlockKind},
    chunk_quality::{ChunkQuality, QualityRules},
};

/// Tokens repeated from the end of a full chunk at the start of the next.
const OVERLAP_TOKENS: usize = 32;

/// Bytes a chunk may hold per token of its limit. Real text needs 3 to 6; the bound is for
/// words the tokenizer reads as one unknown token however long they are, which would otherwise
/// let a chunk of one "word" be megabytes.
const MAX_BYTES_PER_TOKEN: usize = 16;

/// The most text that `max_chunks` chunks of `max_tokens` can hold: a document with more fails
/// as too large whatever its words, so nothing needs to read further.
pub fn max_text_bytes(max_tokens: usize, max_chunks: usize) -> usize {
    max_tokens
        .saturating_mul(MAX_BYTES_PER_TOKEN)
        .saturating_mul(max_chunks)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub index: usize,
    pub content: String,
    /// What the model embeds: the breadcrumbs line, then the content.
    pub embedding_input: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub breadcrumbs: Vec<String>,
    /// Offsets in characters (Unicode scalar values) into the document's Markdown.
    pub char_start: usize,
    pub char_end: usize,
    pub token_count: usize,
    pub quality: ChunkQuality,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunked {
    pub markdown: String,
    pub chunks: Vec<Chunk>,
}

/// The headings above a point in the document: (level, text), outermost first.
type Trail = Vec<(u8, String)>;

/// The pieces of a document grouped by the heading trail they sit under.
type Sections = Vec<(Trail, Vec<Piece>)>;

/// A stretch of the Markdown that is never split: a sentence, a code line, a table row.
struct Piece {
    start: usize,
    end: usize,
    tokens: usize,
    page: Option<u32>,
}

/// Splits `blocks` into chunks whose embedding input is at most `max_tokens` as counted by
/// `count_tokens` (which includes the model's special tokens; `count_tokens("")` tells how many).
/// `None` when the text needs more than `max_chunks` chunks: known as soon as its tokens
/// outnumber what that many chunks hold, so a huge text costs no more than the largest allowed.
/// Each chunk is scored by `rules`.
pub fn chunk(
    blocks: &[Block],
    max_tokens: usize,
    max_chunks: usize,
    count_tokens: &dyn Fn(&str) -> usize,
    rules: &QualityRules,
) -> Option<Chunked> {
    let overhead = count_tokens("");
    let tokens_of = |text: &str| count_tokens(text).saturating_sub(overhead);
    let most_tokens = max_chunks.saturating_mul(max_tokens);
    let (markdown, sections) = sections_of(blocks, max_tokens, most_tokens, &tokens_of)?;
    let mut chunks = Vec::new();
    let mut chars = CharCounter::default();
    for (trail, pieces) in sections {
        let section = Section {
            markdown: &markdown,
            breadcrumbs: trail.iter().map(|(_, t)| t.clone()).collect(),
            pieces,
            overhead,
        };
        section.chunk(max_tokens, count_tokens, rules, &mut chars, &mut chunks);
        if chunks.len() > max_chunks {
            return None;
        }
    }
    Some(Chunked { markdown, chunks })
}

/// The document's Markdown, and its pieces grouped by the heading trail they sit under; `None`
/// once the pieces hold more than `most_tokens`.
fn sections_of(
    blocks: &[Block],
    max_tokens: usize,
    most_tokens: usize,
    tokens_of: &dyn Fn(&str) -> usize,
) -> Option<(String, Sections)> {
    let mut markdown = String::new();
    let mut sections: Sections = vec![(Vec::new(), Vec::new())];
    let mut trail: Trail = Vec::new();
    let mut tokens = 0;
    for block in blocks.iter().filter(|b| !b.text.trim().is_empty()) {
        if !markdown.is_empty() {
            markdown.push_str("\n\n");
        }
        let start = markdown.len();
        markdown.push_str(&block.markdown());
        let rendered = &markdown[start..];
        match block.kind {
            BlockKind::Heading(level) => {
                trail.retain(|(l, _)| *l < level);
                trail.push((level, block.text.trim().to_owned()));
                // The heading line belongs to the chunk it opens, so searches for it find its section.
                let piece = Piece {
                    start,
                    end: markdown.len(),
                    tokens: tokens_of(rendered),
                    page: block.page,
                };
                tokens += piece.tokens;
                sections.push((trail.clone(), vec![piece]));
            }
            kind => {
                let section = &mut sections.last_mut().expect("one section always exists").1;
                for (offset, part) in split_units(rendered, kind) {
                    let before = section.len();
                    push_bounded(
                        section,
                        start + offset,
                        part,
                        block.page,
                        max_tokens,
                        tokens_of,
                    );
                    tokens += section[before..].iter().map(|p| p.tokens).sum::<usize>();
                    if tokens > most_tokens {
                        return None;
                    }
                }
            }
        }
    }
    (tokens <= most_tokens).then_some((markdown, sections))
}

/// The pieces under one heading trail, packed into chunks that carry the trail.
struct Section<'a> {
    markdown: &'a str,
    breadcrumbs: Vec<String>,
    pieces: Vec<Piece>,
    /// The model's special tokens, in every input.
    overhead: usize,
}

impl Section<'_> {
    fn chunk(
        &self,
        max_tokens: usize,
        count_tokens: &dyn Fn(&str) -> usize,
        rules: &QualityRules,
        chars: &mut CharCounter,
        chunks: &mut Vec<Chunk>,
    ) {
        let (markdown, pieces, overhead) = (self.markdown, &self.pieces, self.overhead);
        let prefix = self.breadcrumbs.join(" > ");
        let prefix_tokens = if prefix.is_empty() {
            0
        } else {
            count_tokens(&prefix).saturating_sub(overhead)
        };
        let budget = max_tokens.saturating_sub(overhead + prefix_tokens);
        // A trail too deep to leave room for text gives way to the text.
        let (prefix, budget) = if budget < max_tokens / 2 {
            (String::new(), max_tokens - overhead)
        } else {
            (prefix, budget)
        };
        let input_of = |range: &std::ops::Range<usize>| {
            let content = &markdown[pieces[range.start].start..pieces[range.end - 1].end];
            if prefix.is_empty() {
                content.to_owned()
            } else {
                format!("{prefix}\n{content}")
            }
        };
        let fits = |range: &std::ops::Range<usize>| count_tokens(&input_of(range)) <= max_tokens;
        for range in pack(pieces, budget, &fits) {
            let (first, last) = (&pieces[range.start], &pieces[range.end - 1]);
            let tokens: usize = pieces[range.clone()].iter().map(|p| p.tokens).sum();
            let content = markdown[first.start..last.end].to_owned();
            chunks.push(Chunk {
                index: chunks.len(),
                char_start: chars.at(markdown, first.start),
                char_end: chars.at(markdown, last.end),
                page: first.page,
                heading: self.breadcrumbs.last().cloned(),
                breadcrumbs: self.breadcrumbs.clone(),
                quality: ChunkQuality::assess(&content, &self.breadcrumbs, rules),
                content,
                embedding_input: input_of(&range),
                token_count: tokens + overhead,
            });
        }
    }
}

/// Groups consecutive pieces into chunks of at most `budget` tokens (and as many times
/// `MAX_BYTES_PER_TOKEN` bytes); a chunk closed for size
/// starts the next with its own last pieces (up to `OVERLAP_TOKENS`). Token counts of pieces add
/// up exactly for WordPiece (it splits on whitespace); `fits` checks each chunk with the real
/// tokenizer anyway, and a chunk that does not fit gives up pieces to the next.
fn pack(
    pieces: &[Piece],
    budget: usize,
    fits: &dyn Fn(&std::ops::Range<usize>) -> bool,
) -> Vec<std::ops::Range<usize>> {
    let max_bytes = budget * MAX_BYTES_PER_TOKEN;
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < pieces.len() {
        let mut end = start;
        let mut used = 0;
        let fits_bytes = |end: usize| pieces[end].end - pieces[start].start <= max_bytes;
        while end < pieces.len()
            && (end == start || (used + pieces[end].tokens <= budget && fits_bytes(end)))
        {
            used += pieces[end].tokens;
            end += 1;
        }
        while end > start + 1 && !fits(&(start..end)) {
            end -= 1;
        }
        ranges.push(start..end);
        if end == pieces.len() {
            break;
        }
        // Step back over the overlap, but always move forward.
        let mut next = end;
        let mut carried = 0;
        while next > start + 1 && carried + pieces[next - 1].tokens <= OVERLAP_TOKENS {
            next -= 1;
            carried += pieces[next].tokens;
        }
        start = next;
    }
    ranges
}

/// Sentences of prose; lines of code and tables. Offsets are bytes into `text`.
fn split_units(text: &str, kind: BlockKind) -> Vec<(usize, &str)> {
    let units: Vec<(usize, &str)> = match kind {
        BlockKind::Code | BlockKind::Table => text
            .split_inclusive('\n')
            .scan(0, |at, line| {
                let unit = (*at, line);
                *at += line.len();
                Some(unit)
            })
            .collect(),
        _ => text.split_sentence_bound_indices().collect(),
    };
    units
        .into_iter()
        .filter(|(_, u)| !u.trim().is_empty())
        .map(|(at, u)| trim_unit(at, u))
        .collect()
}

fn trim_unit(at: usize, unit: &str) -> (usize, &str) {
    let lead = unit.len() - unit.trim_start().len();
    (at + lead, unit.trim())
}

/// Adds a unit as one piece, or, when it alone is over the limit (in tokens or bytes), as
/// word-sized (then character-sized) parts that each fit. Text over the byte bound is never
/// handed to the tokenizer whole: its cost grows with the text, whatever the count.
fn push_bounded(
    pieces: &mut Vec<Piece>,
    start: usize,
    text: &str,
    page: Option<u32>,
    max_tokens: usize,
    tokens_of: &dyn Fn(&str) -> usize,
) {
    // Leave room for breadcrumbs: a single piece uses at most half the limit.
    let cap = (max_tokens / 2).max(8);
    let byte_cap = cap * MAX_BYTES_PER_TOKEN;
    let tokens = (text.len() <= byte_cap).then(|| tokens_of(text));
    let one_word = || {
        let first = text.split_word_bounds().next();
        first.is_some_and(|w| w.len() == text.len())
    };
    let parts = match tokens {
        Some(tokens) if tokens <= cap => Vec::new(),
        _ if one_word() => character_runs(text, byte_cap),
        _ => word_groups(text, cap, byte_cap, tokens_of),
    };
    if parts.len() < 2 {
        // It fits, or cannot be cut (one character over the limit): it stays whole.
        let end = start + text.len();
        let tokens = tokens.unwrap_or(cap).min(cap);
        pieces.push(Piece {
            start,
            end,
            tokens,
            page,
        });
        return;
    }
    for range in parts {
        let (at, part) = trim_unit(start + range.start, &text[range]);
        if !part.is_empty() {
            push_bounded(pieces, at, part, page, max_tokens, tokens_of);
        }
    }
}

/// Consecutive words grouped within `cap` tokens and `byte_cap` bytes; a word over the byte
/// bound is a group of its own, and is not tokenized.
fn word_groups(
    text: &str,
    cap: usize,
    byte_cap: usize,
    tokens_of: &dyn Fn(&str) -> usize,
) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let (mut group_start, mut group_tokens) = (0, 0);
    for (offset, word) in text.split_word_bound_indices() {
        let word_tokens = if word.len() > byte_cap {
            cap + 1
        } else {
            tokens_of(word)
        };
        let bytes = offset + word.len() - group_start;
        if (group_tokens + word_tokens > cap || bytes > byte_cap) && offset > group_start {
            groups.push(group_start..offset);
            (group_start, group_tokens) = (offset, 0);
        }
        group_tokens += word_tokens;
    }
    groups.push(group_start..text.len());
    groups
}

/// One enormous "word" (a hash, base64) in runs of at most `byte_cap` bytes, or, when it is
/// within the bytes but over the tokens, in halves; none if it cannot be cut.
fn character_runs(text: &str, byte_cap: usize) -> Vec<std::ops::Range<usize>> {
    if text.len() <= byte_cap {
        let half = text.char_indices().nth(text.chars().count() / 2);
        return match half {
            Some((half, _)) if half > 0 => vec![0..half, half..text.len()],
            // One character: it cannot be cut.
            _ => Vec::new(),
        };
    }
    let mut runs = Vec::new();
    let mut offset = 0;
    while offset < text.len() {
        let end = offset + text[offset..].floor_char_boundary(byte_cap);
        runs.push(offset..end);
        offset = end;
    }
    runs
}

/// Byte offset → character offset, for offsets visited in increasing order.
#[derive(Default)]
struct CharCounter {
    byte: usize,
    chars: usize,
}

impl CharCounter {
    fn at(&mut self, text: &str, byte: usize) -> usize {
        if byte < self.byte {
            *self = Self::default();
        }
        self.chars += text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: QualityRules = QualityRules::DEFAULT;

    /// One token per word or punctuation mark, plus two specials: close to WordPiece for tests.
    fn count(text: &str) -> usize {
        text.split_word_bounds()
            .filter(|w| !w.trim().is_empty())
            .count()
            + 2
    }

    fn para(text: &str, page: u32) -> Block {
        Block::new(BlockKind::Paragraph, text, Some(page))
    }

    fn heading(level: u8, text: &str) -> Block {
        Block::new(BlockKind::Heading(level), text, None)
    }

    #[test]
    fn headings_start_chunks_and_give_breadcrumbs() {
        let blocks = [
            heading(1, "Guide"),
            para("Intro text here.", 1),
            heading(2, "Install"),
            para("Run the installer.", 1),
            heading(3, "Linux"),
            para("Use apt.", 2),
            heading(2, "Usage"),
            para("Call it.", 3),
        ];
        let out = chunk(&blocks, 256, usize::MAX, &count, &RULES).unwrap();
        let crumbs: Vec<String> = out
            .chunks
            .iter()
            .map(|c| c.breadcrumbs.join(" > "))
            .collect();
        assert_eq!(
            crumbs,
            [
                "Guide",
                "Guide > Install",
                "Guide > Install > Linux",
                "Guide > Usage"
            ]
        );
        assert_eq!(out.chunks[2].content, "### Linux\n\nUse apt.");
        assert_eq!(
            out.chunks[2].embedding_input,
            "Guide > Install > Linux\n### Linux\n\nUse apt."
        );
        assert_eq!(out.chunks[2].heading.as_deref(), Some("Linux"));
        assert_eq!(out.chunks[3].page, None, "a heading has no page of its own");
    }

    #[test]
    fn offsets_are_character_positions_of_the_content_in_the_markdown() {
        let blocks = [
            heading(1, "Café"),
            para("Crème brûlée is déjà vu. 東京は首都です。", 4),
        ];
        let out = chunk(&blocks, 256, usize::MAX, &count, &RULES).unwrap();
        for c in &out.chunks {
            let slice: String = out
                .markdown
                .chars()
                .skip(c.char_start)
                .take(c.char_end - c.char_start)
                .collect();
            assert_eq!(slice, c.content);
        }
    }

    #[test]
    fn long_sections_are_split_within_the_limit_with_overlap() {
        let sentences: Vec<String> = (0..60)
            .map(|i| format!("Sentence number {i} says something useful."))
            .collect();
        let blocks = [heading(1, "Long"), para(&sentences.join(" "), 7)];
        let out = chunk(&blocks, 64, usize::MAX, &count, &RULES).unwrap();
        assert!(out.chunks.len() > 5, "{}", out.chunks.len());
        for c in &out.chunks {
            assert!(
                count(&c.embedding_input) <= 64,
                "chunk {} has {} tokens",
                c.index,
                count(&c.embedding_input)
            );
            assert_eq!(c.token_count, count(&c.content));
        }
        for pair in out.chunks.windows(2) {
            assert!(
                pair[1].char_start < pair[0].char_end,
                "consecutive chunks overlap"
            );
            assert!(
                pair[1].char_start > pair[0].char_start,
                "and always move forward"
            );
        }
        let last = out.chunks.last().unwrap();
        assert!(
            last.content
                .ends_with("Sentence number 59 says something useful.")
        );
        assert_eq!(out.chunks[1].page, Some(7));
    }

    #[test]
    fn giant_words_and_lines_are_cut_to_fit() {
        let blob = "x".repeat(5000);
        let code = (0..200)
            .map(|i| format!("let v{i} = {i};"))
            .collect::<Vec<_>>()
            .join("\n");
        let blocks = [para(&blob, 1), Block::new(BlockKind::Code, code, Some(1))];
        let always_long = |t: &str| t.chars().count() / 4 + 2;
        let out = chunk(&blocks, 64, usize::MAX, &always_long, &RULES).unwrap();
        assert!(
            out.chunks
                .iter()
                .all(|c| always_long(&c.embedding_input) <= 64)
        );
        let covered: usize = out
            .chunks
            .iter()
            .filter(|c| c.content.starts_with('x'))
            .map(|c| c.content.len())
            .sum();
        assert!(covered >= 5000, "the whole blob is kept");
    }

    #[test]
    fn a_word_the_tokenizer_counts_as_one_token_is_still_cut_to_the_byte_bound() {
        // WordPiece reads any word over 100 characters as one unknown token.
        let one_per_word = |t: &str| t.split_whitespace().count() + 2;
        let words = format!("{} and then {}", "y".repeat(300_000), "z".repeat(3_000_000));
        let out = chunk(&[para(&words, 1)], 256, usize::MAX, &one_per_word, &RULES).unwrap();
        let largest = out.chunks.iter().map(|c| c.content.len()).max().unwrap();
        assert!(
            largest <= 256 * MAX_BYTES_PER_TOKEN,
            "a chunk of {largest} bytes"
        );
        let covered: usize = out.chunks.iter().map(|c| c.content.len()).sum();
        assert!(covered >= words.len() - 20, "the whole text is kept");
        assert!(out.chunks.len() * 256 * MAX_BYTES_PER_TOKEN >= words.len());
    }

    #[test]
    fn a_text_over_the_chunk_limit_is_refused_once_its_tokens_outnumber_the_limit() {
        let calls = std::cell::Cell::new(0);
        let counting = |t: &str| {
            calls.set(calls.get() + 1);
            count(t)
        };
        let sentences = "One short sentence here. ".repeat(10_000);
        assert_eq!(
            chunk(&[para(&sentences, 1)], 64, 10, &counting, &RULES),
            None
        );
        assert!(
            calls.get() < 1_000,
            "{} sentences read of 10,000",
            calls.get()
        );
        let fits = chunk(&[para(&sentences[..1_000], 1)], 64, 10, &count, &RULES).unwrap();
        assert!(fits.chunks.len() <= 10);
    }

    #[test]
    fn empty_blocks_give_no_chunks() {
        let out = chunk(&[para("   ", 1)], 256, usize::MAX, &count, &RULES).unwrap();
        assert!(out.chunks.is_empty() && out.markdown.is_empty());
    }
}
