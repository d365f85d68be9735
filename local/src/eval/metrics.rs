//! Ranking metrics over graded relevance judgments: nDCG@10 (gain `2^rel − 1`, log2 discount),
//! recall@100 and MRR@10. A judged score ≤ 0 counts as not relevant.

use std::{collections::HashMap, path::Path};

use anyhow::Context;
use serde_json::json;

/// Relevance grades by query id, then document id.
pub struct Judgments(HashMap<String, HashMap<String, i32>>);

/// One query's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
}

impl Judgments {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| path.display().to_string())
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        let mut grades: HashMap<String, HashMap<String, i32>> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [] => {}
                [query, doc, grade] => match grade.parse::<i32>() {
                    Ok(grade) => {
                        grades
                            .entry(query.into())
                            .or_default()
                            .insert(doc.into(), grade);
                    }
                    Err(_) if n == 0 => {} // the header line
                    Err(_) => {
                        anyhow::bail!("line {}: the score {grade:?} is not an integer", n + 1)
                    }
                },
                _ => anyhow::bail!("line {}: expected `query_id doc_id score`", n + 1),
            }
        }
        Ok(Self(grades))
    }

    /// Whether the query has at least one relevant document (the others cannot be scored).
    pub fn has(&self, query: &str) -> bool {
        self.0
            .get(query)
            .is_some_and(|g| g.values().any(|&r| r > 0))
    }

    /// Figures for a ranking of document ids, best first.
    pub fn score(&self, query: &str, ranking: &[&str]) -> Scores {
        let empty = HashMap::new();
        let grades = self.0.get(query).unwrap_or(&empty);
        let grade = |doc: &str| grades.get(doc).copied().unwrap_or(0).max(0);
        let dcg = |grades: &mut dyn Iterator<Item = i32>| -> f64 {
            grades
                .take(10)
                .enumerate()
                .map(|(i, rel)| (2f64.powi(rel) - 1.0) / (i as f64 + 2.0).log2())
                .sum()
        };
        let mut ideal: Vec<i32> = grades.values().map(|&r| r.max(0)).collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let ideal_dcg = dcg(&mut ideal.into_iter());
        let relevant = grades.values().filter(|&&r| r > 0).count();
        let found = ranking.iter().take(100).filter(|d| grade(d) > 0).count();
        let first = ranking.iter().take(10).position(|d| grade(d) > 0);
        Scores {
            ndcg_at_10: if ideal_dcg > 0.0 {
                dcg(&mut ranking.iter().map(|d| grade(d))) / ideal_dcg
            } else {
                0.0
            },
            recall_at_100: if relevant > 0 {
                found as f64 / relevant as f64
            } else {
                0.0
            },
            mrr_at_10: first.map_or(0.0, |i| 1.0 / (i as f64 + 1.0)),
        }
    }
}

/// Means over the queries scored so far.
#[derive(Debug, Default)]
pub struct Totals {
    pub queries: usize,
    sums: [f64; 3],
}

impl Totals {
    pub fn add(&mut self, scores: &Scores) {
        self.queries += 1;
        for (sum, value) in
            self.sums
                .iter_mut()
                .zip([scores.ndcg_at_10, scores.recall_at_100, scores.mrr_at_10])
        {
            *sum += value;
        }
    }

    /// The mode's JSON line, figures rounded to four places.
    pub fn summary(&self, mode: &str, mean_query_ms: f64) -> serde_json::Value {
        let mean = |i: usize| (self.sums[i] / self.queries.max(1) as f64 * 1e4).round() / 1e4;
        json!({
            "mode": mode,
            "queries": self.queries,
            "ndcg@10": mean(0),
            "recall@100": mean(1),
            "mrr@10": mean(2),
            "meanQueryMs": (mean_query_ms * 10.0).round() / 10.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judgments() -> Judgments {
        Judgments::parse("query_id\tdoc_id\tscore\nq a 3\nq b 1\nq c 0\nr x -1\n").unwrap()
    }

    #[test]
    fn a_perfect_ranking_scores_one() {
        let s = judgments().score("q", &["a", "b", "z"]);
        assert_eq!(
            s,
            Scores {
                ndcg_at_10: 1.0,
                recall_at_100: 1.0,
                mrr_at_10: 1.0
            }
        );
    }

    #[test]
    fn graded_gains_and_log_discounts() {
        // Ranking b, a: DCG = 1/log2(2) + 7/log2(3); ideal = 7 + 1/log2(3).
        let s = judgments().score("q", &["z", "b", "a"]);
        let dcg = 1.0 / 3f64.log2() + 7.0 / 4f64.log2();
        let ideal = 7.0 + 1.0 / 3f64.log2();
        assert!((s.ndcg_at_10 - dcg / ideal).abs() < 1e-12);
        assert_eq!((s.recall_at_100, s.mrr_at_10), (1.0, 0.5));
        let missed = judgments().score("q", &["c", "z"]);
        assert_eq!(
            missed,
            Scores {
                ndcg_at_10: 0.0,
                recall_at_100: 0.0,
                mrr_at_10: 0.0
            }
        );
    }

    #[test]
    fn only_positive_grades_count_and_cutoffs_hold() {
        let j = judgments();
        assert!(j.has("q") && !j.has("r") && !j.has("nobody"));
        let mut ranking: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
        ranking.push("a".into());
        let ranking: Vec<&str> = ranking.iter().map(String::as_str).collect();
        assert_eq!(j.score("q", &ranking).recall_at_100, 0.0);
        assert_eq!(j.score("q", &ranking[90..]).recall_at_100, 0.5);
        assert_eq!(j.score("q", &ranking[90..]).mrr_at_10, 0.0);
        assert!(Judgments::parse("q a x\nq b 1").is_ok());
        assert!(Judgments::parse("q a 1\nq b x").is_err());
    }
}
