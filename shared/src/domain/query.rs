//! A search as asked: the request and its bounds, the filters, and the keyword query every store
//! renders in its own full-text syntax.

use uuid::Uuid;

use super::formats::Format;
use crate::Error;

/// Candidates each list contributes to a hybrid fusion: three per result asked, at least 100.
/// On Cranfield, 100 per list ranks the top 10 as well as 300 (docs/BENCHMARKS.md) at a third
/// of the work; deeper pages need the deeper lists.
const HYBRID_MIN_DEPTH: usize = 100;
const HYBRID_DEPTH_PER_RESULT: usize = 3;
const MAX_QUERY_CHARS: usize = 1000;
const MAX_DOCUMENT_IDS: usize = 1000;

/// A search as asked (`POST /api/query`, `ragbase eval`); `SearchRequest::parse` checks it.
#[derive(Debug, Default)]
pub struct RawSearchRequest {
    pub query: Option<String>,
    /// A JSON number: `5.0` is 5, as JavaScript clients see it.
    pub top_k: Option<f64>,
    pub mode: Option<String>,
    pub alpha: Option<f64>,
    pub document_ids: Option<Vec<String>>,
    pub formats: Option<Vec<String>>,
    pub min_score: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Semantic,
    Hybrid,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Semantic => "semantic",
            Self::Hybrid => "hybrid",
        }
    }
}

/// Which documents a search may return, beyond the rule that only COMPLETED, active ones can.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    pub document_ids: Option<Vec<Uuid>>,
    pub formats: Option<Vec<Format>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: String,
    pub top_k: usize,
    pub mode: Mode,
    /// Weight of the vector ranks in a hybrid fusion; the keyword ranks get the rest.
    pub alpha: f64,
    pub filter: SearchFilter,
    /// The least cosine similarity a result may have, in either mode.
    pub min_similarity: Option<f32>,
}

impl SearchRequest {
    pub fn parse(raw: RawSearchRequest) -> Result<Self, Error> {
        let invalid = |message: &str| Error::Validation(message.to_owned());
        // Control characters mean nothing in a question, and PostgreSQL refuses NUL in text.
        let spaced: String = raw
            .query
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let query = spaced.trim();
        let length = query.chars().count();
        if !(1..=MAX_QUERY_CHARS).contains(&length) {
            return Err(invalid(&format!(
                "query must be 1–{MAX_QUERY_CHARS} characters (after trimming spaces)"
            )));
        }
        let top_k = match raw.top_k {
            None => 5,
            Some(k) if k.fract() == 0.0 && (1.0..=100.0).contains(&k) => k as usize,
            Some(_) => return Err(invalid("topK must be an integer from 1 to 100")),
        };
        let mode = match raw.mode.as_deref() {
            None | Some("semantic") => Mode::Semantic,
            Some("hybrid") => Mode::Hybrid,
            Some(_) => return Err(invalid("mode must be \"semantic\" or \"hybrid\"")),
        };
        let alpha = raw.alpha.unwrap_or(0.7);
        if !(0.0..=1.0).contains(&alpha) {
            return Err(invalid("alpha must be a number from 0 to 1"));
        }
        let min_similarity = match raw.min_score {
            None => None,
            Some(s) if (-1.0..=1.0).contains(&s) => Some(s as f32),
            Some(_) => return Err(invalid("minScore must be a number from -1 to 1")),
        };
        let document_ids = raw
            .document_ids
            .map(|ids| {
                if ids.is_empty() || ids.len() > MAX_DOCUMENT_IDS {
                    return Err(invalid(&format!(
                        "documentIds must list 1–{MAX_DOCUMENT_IDS} document ids"
                    )));
                }
                ids.iter()
                    .map(|id| {
                        Uuid::parse_str(id).map_err(|_| {
                            let shown: String = id.chars().take(64).collect();
                            invalid(&format!("documentIds: {shown:?} is not a document id"))
                        })
                    })
                    .collect()
            })
            .transpose()?;
        let formats = raw
            .formats
            .map(|names| {
                if names.is_empty() {
                    return Err(invalid("formats must list at least one format"));
                }
                names
                    .iter()
                    .map(|name| {
                        Format::parse(name).ok_or_else(|| {
                            let known: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
                            let shown: String = name.chars().take(32).collect();
                            invalid(&format!(
                                "formats: {shown:?} is not one of {}",
                                known.join(", ")
                            ))
                        })
                    })
                    .collect()
            })
            .transpose()?;
        Ok(Self {
            query: query.to_owned(),
            top_k,
            mode,
            alpha,
            filter: SearchFilter {
                document_ids,
                formats,
            },
            min_similarity,
        })
    }

    /// How many candidates each ranked list contributes to a hybrid fusion.
    pub fn hybrid_depth(&self) -> usize {
        (self.top_k * HYBRID_DEPTH_PER_RESULT).max(HYBRID_MIN_DEPTH)
    }
}

/// The query's keyword side, in the web-search style users know: a question's words are
/// alternatives (a natural-language question rarely has every word in one passage), "quoted
/// phrases" are alternatives too, and -words exclude chunks outright. Each store renders it in
/// its own full-text syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    /// Words, and phrases (the terms with spaces in them).
    pub any: Vec<String>,
    /// Words and phrases a chunk must not hold.
    pub exclude: Vec<String>,
}

impl Keywords {
    pub fn parse(query: &str) -> Self {
        let (mut any, mut exclude) = (Vec::new(), Vec::new());
        let mut rest = query.trim_start();
        while !rest.is_empty() {
            let negated = rest.starts_with('-')
                && rest[1..].chars().next().is_some_and(|c| !c.is_whitespace());
            let body = if negated { &rest[1..] } else { rest };
            let (term, after) = if let Some(quoted) = body.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                let phrase = quoted[..end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                (phrase, quoted.get(end + 1..).unwrap_or(""))
            } else {
                let end = body
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(body.len());
                let word = &body[..end];
                // `or` is the web-search operator; the words are alternatives already.
                let word = if word.eq_ignore_ascii_case("or") {
                    ""
                } else {
                    word
                };
                (word.to_owned(), &body[end..])
            };
            if !term.is_empty() {
                if negated { &mut exclude } else { &mut any }.push(term);
            }
            rest = after.trim_start();
        }
        Self { any, exclude }
    }

    /// True for a phrase, which the stores match as consecutive words.
    pub fn is_phrase(term: &str) -> bool {
        term.contains(' ')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request as a client sends it, through the API's wire type.
    fn request(json: serde_json::Value) -> Result<SearchRequest, Error> {
        let body: crate::http::types::QueryBody = serde_json::from_value(json).unwrap();
        SearchRequest::parse(body.into())
    }

    fn message(json: serde_json::Value) -> String {
        match request(json) {
            Err(Error::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_contract() {
        let r = request(serde_json::json!({"query": "  lift on wings  "})).unwrap();
        assert_eq!(r.query, "lift on wings");
        assert_eq!((r.top_k, r.mode, r.alpha), (5, Mode::Semantic, 0.7));
        assert_eq!(r.filter, SearchFilter::default());
        assert_eq!(r.min_similarity, None);
        let controls = request(serde_json::json!({"query": "lift\u{0}on\twings\u{1b}"})).unwrap();
        assert_eq!(controls.query, "lift on wings");
    }

    #[test]
    fn every_bound_is_checked() {
        assert!(message(serde_json::json!({})).contains("query"));
        assert!(message(serde_json::json!({"query": "   "})).contains("query"));
        assert!(message(serde_json::json!({"query": "x".repeat(1001)})).contains("1000"));
        assert!(request(serde_json::json!({"query": "é".repeat(1000)})).is_ok());
        for k in [0.0, 101.0, -1.0, 5.5] {
            assert!(message(serde_json::json!({"query": "q", "topK": k})).contains("topK"));
        }
        // JavaScript has no integers: 5.0 is 5.
        assert_eq!(
            request(serde_json::json!({"query": "q", "topK": 5.0}))
                .unwrap()
                .top_k,
            5
        );
        assert!(message(serde_json::json!({"query": "q", "mode": "bm25"})).contains("mode"));
        assert!(message(serde_json::json!({"query": "q", "alpha": 1.5})).contains("alpha"));
        assert!(message(serde_json::json!({"query": "q", "minScore": 2})).contains("minScore"));
        assert!(
            message(serde_json::json!({"query": "q", "documentIds": []})).contains("documentIds")
        );
        assert!(
            message(serde_json::json!({"query": "q", "documentIds": ["nope"]})).contains("nope")
        );
        assert!(message(serde_json::json!({"query": "q", "formats": ["exe"]})).contains("pdf"));
    }

    #[test]
    fn hybrid_lists_hold_three_candidates_per_result_and_at_least_a_hundred() {
        let depth = |k: u32| {
            request(serde_json::json!({"query": "q", "topK": k, "mode": "hybrid"}))
                .unwrap()
                .hybrid_depth()
        };
        assert_eq!(
            (depth(1), depth(10), depth(34), depth(100)),
            (100, 100, 102, 300)
        );
    }

    #[test]
    fn filters_are_parsed() {
        let id = Uuid::new_v4();
        let r = request(serde_json::json!({
            "query": "q", "topK": 100, "mode": "hybrid", "alpha": 0,
            "documentIds": [id.to_string()], "formats": ["pdf", "markdown"], "minScore": 0.25
        }))
        .unwrap();
        assert_eq!(r.filter.document_ids, Some(vec![id]));
        assert_eq!(r.filter.formats, Some(vec![Format::Pdf, Format::Markdown]));
        assert_eq!((r.top_k, r.mode, r.alpha), (100, Mode::Hybrid, 0.0));
        assert_eq!(r.min_similarity, Some(0.25));
    }

    #[test]
    fn keywords_are_alternatives_phrases_kept_and_exclusions_apart() {
        let k = Keywords::parse(
            r#"what lift -helicopter "propeller  slipstream" or -"rotor blade" x-ray"#,
        );
        assert_eq!(k.any, ["what", "lift", "propeller slipstream", "x-ray"]);
        assert_eq!(k.exclude, ["helicopter", "rotor blade"]);
        assert!(Keywords::is_phrase(&k.any[2]) && !Keywords::is_phrase(&k.any[3]));
        let unclosed = Keywords::parse(r#"wing "open phrase"#);
        assert_eq!(unclosed.any, ["wing", "open phrase"]);
        let odd = Keywords::parse(r#"- "" -"" OR"#);
        assert_eq!((odd.any, odd.exclude), (vec!["-".to_owned()], vec![]));
    }
}
