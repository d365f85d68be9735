//! How well a chunk stands on its own: a score from 0 to 1 and the flags behind it, as the
//! original service's chunk explorer and analytics pages filter and count them. A heuristic for
//! people reviewing a collection; search does not use it.

/// What may be wrong with a chunk. Stored as bits (`QualityFlags`), so both stores can filter
/// by any of them with one integer comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityFlag {
    TooShort,
    TooLong,
    /// Neither a heading of its own nor breadcrumbs to say where it sits.
    NoContext,
    /// Ends mid-sentence.
    Fragment,
    Empty,
}

impl QualityFlag {
    pub const ALL: [Self; 5] = [
        Self::TooShort,
        Self::TooLong,
        Self::NoContext,
        Self::Fragment,
        Self::Empty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooShort => "TOO_SHORT",
            Self::TooLong => "TOO_LONG",
            Self::NoContext => "NO_CONTEXT",
            Self::Fragment => "FRAGMENT",
            Self::Empty => "EMPTY",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    pub fn bit(self) -> i32 {
        1 << self as i32
    }
}

/// A set of flags, as the bits the stores keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QualityFlags(pub i32);

impl QualityFlags {
    pub fn contains(self, flag: QualityFlag) -> bool {
        self.0 & flag.bit() != 0
    }

    pub fn flags(self) -> impl Iterator<Item = QualityFlag> {
        QualityFlag::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<QualityFlag> for QualityFlags {
    fn from_iter<I: IntoIterator<Item = QualityFlag>>(flags: I) -> Self {
        Self(flags.into_iter().fold(0, |bits, f| bits | f.bit()))
    }
}

/// How chunks are scored: a processing profile's quality settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityRules {
    /// Shorter than this (in characters) says too little to be found on its own.
    pub min_chars: usize,
    pub max_chars: usize,
    /// The length score's 1.0.
    pub ideal_chars: usize,
    pub penalty_per_flag: f64,
}

impl QualityRules {
    /// The default profile's.
    pub const DEFAULT: Self = Self {
        min_chars: 500,
        max_chars: 2000,
        ideal_chars: 1500,
        penalty_per_flag: 0.15,
    };
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkQuality {
    /// 0 to 1, two decimals.
    pub score: f64,
    pub flags: QualityFlags,
}

impl ChunkQuality {
    /// The original's weighting: flags 40%, length 30%, context 20%, a proper ending 10%.
    pub fn assess(content: &str, breadcrumbs: &[String], rules: &QualityRules) -> Self {
        let text = content.trim();
        if text.is_empty() {
            let flags = QualityFlags(QualityFlag::Empty.bit());
            return Self { score: 0.0, flags };
        }
        let chars = text.chars().count();
        let has_context = has_title(text) || !breadcrumbs.is_empty();
        let ends_properly = text.ends_with(['.', '!', '?', ':', '>']) || text.ends_with("```");
        let flags: QualityFlags = [
            (chars < rules.min_chars, QualityFlag::TooShort),
            (chars > rules.max_chars, QualityFlag::TooLong),
            (!has_context, QualityFlag::NoContext),
            (!ends_properly, QualityFlag::Fragment),
        ]
        .into_iter()
        .filter_map(|(raised, flag)| raised.then_some(flag))
        .collect();
        let raised = flags.flags().count() as f64;
        let base = (1.0 - rules.penalty_per_flag * raised).max(0.0);
        let length = (chars as f64 / rules.ideal_chars.max(1) as f64).min(1.0);
        let context = if has_context { 1.0 } else { 0.5 };
        let ending = if ends_properly { 1.0 } else { 0.7 };
        let score = base * 0.4 + length * 0.3 + context * 0.2 + ending * 0.1;
        Self {
            score: (score * 100.0).round() / 100.0,
            flags,
        }
    }
}

/// `complete`, `partial` (ends mid-sentence) or `empty`.
pub fn completeness(flags: QualityFlags) -> &'static str {
    if flags.contains(QualityFlag::Empty) {
        "empty"
    } else if flags.contains(QualityFlag::Fragment) {
        "partial"
    } else {
        "complete"
    }
}

/// Whether the chunk opens with a heading (or a quote line that names its section).
pub fn has_title(content: &str) -> bool {
    content.trim_start().starts_with(['#', '>'])
}

/// The original's three bands of scores, as its explorer filters them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityBand {
    /// 0.85 and above.
    Excellent,
    /// From 0.70 to below 0.85.
    Good,
    /// Below 0.70.
    Low,
}

impl QualityBand {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "excellent" => Some(Self::Excellent),
            "good" => Some(Self::Good),
            "low" => Some(Self::Low),
            _ => None,
        }
    }

    /// The scores in the band: at least the first, below the second.
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Self::Excellent => (0.85, f64::INFINITY),
            Self::Good => (0.70, 0.85),
            Self::Low => (f64::NEG_INFINITY, 0.70),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original analyzer's own defaults.
    const RULES: QualityRules = QualityRules {
        min_chars: 50,
        max_chars: 2000,
        ideal_chars: 1000,
        penalty_per_flag: 0.15,
    };

    #[test]
    fn a_full_section_with_its_heading_scores_one() {
        let text = format!("# Pumps\n\n{}", "The pump needs priming first. ".repeat(40));
        let q = ChunkQuality::assess(&text, &["Pumps".into()], &RULES);
        assert_eq!((q.score, q.flags), (1.0, QualityFlags(0)));
        assert_eq!(completeness(q.flags), "complete");
        assert!(has_title(&text));
    }

    #[test]
    fn each_fault_is_flagged_and_costs_score() {
        // Short, no context, cut off: 3 flags.
        let q = ChunkQuality::assess("and then the valve", &[], &RULES);
        let raised: Vec<_> = q.flags.flags().map(QualityFlag::as_str).collect();
        assert_eq!(raised, ["TOO_SHORT", "NO_CONTEXT", "FRAGMENT"]);
        // 0.55 * 0.4 + 18/1000 * 0.3 + 0.5 * 0.2 + 0.7 * 0.1 = 0.3954
        assert_eq!(q.score, 0.4);
        assert_eq!(completeness(q.flags), "partial");

        let long = ChunkQuality::assess(&"word. ".repeat(500), &["Guide".into()], &RULES);
        assert_eq!(long.flags, QualityFlags(QualityFlag::TooLong.bit()));
        let empty = ChunkQuality::assess("  \n", &[], &RULES);
        assert_eq!((empty.score, completeness(empty.flags)), (0.0, "empty"));
    }

    #[test]
    fn the_rules_decide_what_is_short_long_and_ideal() {
        let text = format!("# Pumps\n\n{}", "The pump needs priming first. ".repeat(10));
        assert_eq!(
            ChunkQuality::assess(&text, &[], &RULES).flags,
            QualityFlags(0)
        );
        let strict = QualityRules {
            min_chars: 500,
            ideal_chars: 310,
            ..RULES
        };
        let q = ChunkQuality::assess(&text, &[], &strict);
        assert_eq!(q.flags, QualityFlags(QualityFlag::TooShort.bit()));
        // 0.85 * 0.4 + 1.0 * 0.3 + 0.2 + 0.1
        assert_eq!(q.score, 0.94);
        let long = QualityRules {
            max_chars: 100,
            penalty_per_flag: 1.0,
            ..RULES
        };
        let q = ChunkQuality::assess(&text, &[], &long);
        assert_eq!(q.flags, QualityFlags(QualityFlag::TooLong.bit()));
    }

    #[test]
    fn flags_round_trip_through_their_bits_and_names() {
        let all: QualityFlags = QualityFlag::ALL.into_iter().collect();
        assert_eq!(all.flags().count(), 5);
        for flag in QualityFlag::ALL {
            assert_eq!(QualityFlag::parse(flag.as_str()), Some(flag));
        }
        assert_eq!(QualityFlag::parse("too_short"), None);
    }
}
