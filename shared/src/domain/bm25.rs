//! BM25 keyword scoring, and the plan that keeps it fast on a large corpus without changing its
//! answer. A question's words are alternatives, so a common word alone matches most chunks; scoring
//! every match costs time in proportion to the corpus. Yet a chunk holding only common words can
//! score no more than those words' upper bounds allow (MaxScore, Turtle & Flood 1995): once the
//! chunks holding a rarer word already fill the list above that bound, no other chunk can enter it.

/// Term-frequency saturation and length normalisation, at their customary values.
pub const K1: f64 = 1.2;
pub const B: f64 = 0.75;

/// A query term, as the corpus statistics know it.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub lexeme: String,
    /// Chunks that hold it.
    pub chunks: i64,
    pub idf: f64,
}

impl Term {
    /// `corpus` is the number of chunks in all.
    pub fn new(lexeme: String, chunks: i64, corpus: i64) -> Self {
        let (n, df) = (corpus as f64, chunks as f64);
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        Self {
            lexeme,
            chunks,
            idf,
        }
    }

    /// The most this term can add to a chunk's score: its saturation limit, whatever the
    /// chunk's length or the term's frequency in it.
    pub fn upper_bound(&self) -> f64 {
        self.idf * (K1 + 1.0)
    }
}

/// Which chunks to score, widening step by step: first those holding the query's rarest terms,
/// then more of them, until the ranking is settled or every term is in.
#[derive(Debug)]
pub struct Plan {
    /// Rarest first; terms no chunk holds are left out.
    terms: Vec<Term>,
    /// How many of `terms` select the candidates.
    selected: usize,
}

/// Chunks a first round may score: enough for any query on a small corpus to be settled at once.
const FIRST_ROUND_CHUNKS: i64 = 20_000;
/// Each further round may score this many times more.
const WIDENING: i64 = 8;

impl Plan {
    pub fn new(mut terms: Vec<Term>) -> Self {
        terms.retain(|t| t.chunks > 0);
        terms.sort_by(|a, b| {
            a.chunks
                .cmp(&b.chunks)
                .then_with(|| a.lexeme.cmp(&b.lexeme))
        });
        let mut plan = Self { terms, selected: 0 };
        plan.widen_to(FIRST_ROUND_CHUNKS);
        plan
    }

    /// Every term the scores sum over.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The terms a candidate must hold at least one of (empty when nothing can match).
    pub fn candidate_terms(&self) -> &[Term] {
        &self.terms[..self.selected]
    }

    /// Whether `scores` (best first, from the current candidates, at most `limit`) are the true
    /// top `limit`: they are when every term is in, or when the list is full and its last score
    /// is out of reach of a chunk holding only the terms left out.
    pub fn is_settled(&self, scores: &[f64], limit: usize) -> bool {
        let out_of_reach: f64 = self.terms[self.selected..]
            .iter()
            .map(Term::upper_bound)
            .sum();
        self.selected == self.terms.len()
            || (scores.len() >= limit && scores[limit - 1] >= out_of_reach)
    }

    /// Lets the next round score more chunks. Returns false when every term is in already.
    pub fn widen(&mut self) -> bool {
        if self.selected == self.terms.len() {
            return false;
        }
        let scored: i64 = self.candidate_terms().iter().map(|t| t.chunks).sum();
        self.widen_to(scored.saturating_mul(WIDENING));
        true
    }

    /// Selects the rarest terms whose chunks add up to at most `budget`, and always one more.
    fn widen_to(&mut self, budget: i64) {
        let mut total: i64 = self.candidate_terms().iter().map(|t| t.chunks).sum();
        while self.selected < self.terms.len() {
            total += self.terms[self.selected].chunks;
            self.selected += 1;
            if self
                .terms
                .get(self.selected)
                .is_none_or(|next| total + next.chunks > budget)
            {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(chunks: &[(&str, i64)], corpus: i64) -> Plan {
        Plan::new(
            chunks
                .iter()
                .map(|(l, c)| Term::new((*l).to_owned(), *c, corpus))
                .collect(),
        )
    }

    fn lexemes(terms: &[Term]) -> Vec<&str> {
        terms.iter().map(|t| t.lexeme.as_str()).collect()
    }

    #[test]
    fn rare_terms_weigh_more() {
        let (rare, common) = (
            Term::new("a".into(), 10, 1000),
            Term::new("b".into(), 900, 1000),
        );
        assert!(rare.idf > 4.0 && common.idf < 0.2, "{rare:?} {common:?}");
        assert!((rare.upper_bound() - rare.idf * 2.2).abs() < 1e-12);
    }

    #[test]
    fn rarest_terms_select_first_and_missing_ones_drop_out() {
        let p = plan(
            &[
                ("flow", 400_000),
                ("aeroelast", 7_000),
                ("zzz", 0),
                ("heat", 70_000),
            ],
            1_000_000,
        );
        assert_eq!(lexemes(p.terms()), ["aeroelast", "heat", "flow"]);
        assert_eq!(lexemes(p.candidate_terms()), ["aeroelast"]);
    }

    #[test]
    fn a_small_corpus_scores_every_match_at_once() {
        let p = plan(&[("flow", 800), ("heat", 100)], 1_911);
        assert_eq!(p.candidate_terms().len(), 2);
        assert!(p.is_settled(&[], 300));
    }

    #[test]
    fn settled_only_when_no_outsider_can_reach_the_last_place() {
        let mut p = plan(&[("flow", 400_000), ("aeroelast", 7_000)], 1_000_000);
        let flow_bound = p.terms()[1].upper_bound();
        assert!(p.is_settled(&[9.0, flow_bound + 0.01], 2));
        assert!(!p.is_settled(&[9.0, flow_bound - 0.01], 2));
        // A list that is not full leaves room for outsiders, however high its scores.
        assert!(!p.is_settled(&[9.0], 2));
        assert!(p.widen());
        assert_eq!(p.candidate_terms().len(), 2);
        assert!(p.is_settled(&[], 2));
        assert!(!p.widen());
    }

    #[test]
    fn widening_grows_the_budget_geometrically() {
        let mut p = plan(
            &[("a", 15_000), ("b", 30_000), ("c", 60_000), ("d", 500_000)],
            1_000_000,
        );
        assert_eq!(lexemes(p.candidate_terms()), ["a"]);
        p.widen(); // budget 8 × 15k = 120k: a + b + c = 105k
        assert_eq!(lexemes(p.candidate_terms()), ["a", "b", "c"]);
        p.widen();
        assert_eq!(lexemes(p.candidate_terms()), ["a", "b", "c", "d"]);
    }
}
