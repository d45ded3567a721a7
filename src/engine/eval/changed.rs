//! The items whose answer changed between two models' results on the same benchmark: what a
//! user reads to see what a model gained or lost against another, item by item.

use super::results::{BenchmarkResult, ItemResult};
use super::task::{Benchmark, Items};
use std::collections::HashMap;

/// One model's answer to an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The chosen choice's text, or the extracted (else generated) answer.
    pub text: String,
    /// Whether it is right.
    pub correct: bool,
}

/// An item both models answered, differently.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedItem {
    /// The item's id in the benchmark file.
    pub id: String,
    /// The right answer, when the result file has it (a choice's text, GSM8K's number).
    pub gold: Option<String>,
    /// The first model's answer.
    pub first: Answer,
    /// The second model's answer.
    pub second: Answer,
}

impl ChangedItem {
    /// Whether the second model got right what the first got wrong.
    pub fn fixed(&self) -> bool {
        !self.first.correct && self.second.correct
    }

    /// Whether the second model got wrong what the first got right.
    pub fn broke(&self) -> bool {
        self.first.correct && !self.second.correct
    }
}

/// The answer of one item, with the key that decides whether two answers differ, and the gold.
fn answer_of(item: &ItemResult) -> Option<(String, Answer, Option<String>)> {
    match item {
        ItemResult::Mc(m) => {
            let text = |i: usize| m.choices.get(i).map(|c| c.text.clone()).unwrap_or_else(|| format!("choice {i}"));
            let correct = m.score.map_or(m.pred == m.gold, |s| s >= 0.5);
            Some((m.pred.to_string(), Answer { text: text(m.pred), correct }, m.score.is_none().then(|| text(m.gold))))
        }
        ItemResult::Gen(g) => {
            let extracted = g.pred_strict.clone().or_else(|| g.pred_flexible.clone());
            let key = extracted.clone().unwrap_or_else(|| g.generated.trim().to_string());
            let text = extracted.unwrap_or_else(|| g.generated.trim().to_string());
            Some((key, Answer { text, correct: g.correct }, g.gold.clone()))
        }
        ItemResult::Loss(_) => None,
    }
}

/// The items of `first` whose answer in `second` differs (another choice, another extracted
/// answer, or another verdict), in `first`'s order. Items only one of them has are left out;
/// loss-only results (held-out loss) have no answers and give none.
pub fn changed_items(first: &BenchmarkResult, second: &BenchmarkResult) -> Vec<ChangedItem> {
    let theirs: HashMap<&str, &ItemResult> = second.items.iter().map(|i| (item_id(i), i)).collect();
    first
        .items
        .iter()
        .filter_map(|mine| {
            let other = theirs.get(item_id(mine))?;
            let (key_a, a, gold) = answer_of(mine)?;
            let (key_b, b, _) = answer_of(other)?;
            (key_a != key_b || a.correct != b.correct).then(|| ChangedItem { id: item_id(mine).to_string(), gold, first: a, second: b })
        })
        .collect()
}

fn item_id(item: &ItemResult) -> &str {
    match item {
        ItemResult::Mc(m) => &m.id,
        ItemResult::Gen(g) => &g.id,
        ItemResult::Loss(l) => &l.id,
    }
}

/// Each item's question as the benchmark file words it (the prompt without few-shot examples),
/// by id.
pub fn questions(bench: &Benchmark) -> HashMap<String, String> {
    match &bench.items {
        Items::Mc(v) => v.iter().map(|i| (i.id.clone(), i.query.clone())).collect(),
        Items::Gsm8k(v) => v.iter().map(|i| (i.id.clone(), i.query.clone())).collect(),
        Items::IfEval(v) => v.iter().map(|i| (i.id.clone(), i.prompt.clone())).collect(),
        Items::Heldout(_) => HashMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::eval::results::{ChoiceResult, GenItemResult, McItemResult};

    fn mc(id: &str, pred: usize) -> ItemResult {
        let choice = |t: &str| ChoiceResult { text: t.into(), loglik: -1.0, chars: t.len() };
        ItemResult::Mc(McItemResult {
            id: id.into(),
            gold: 0,
            pred,
            pred_norm: pred,
            choices: vec![choice("Mars"), choice("the Moon")],
            group: None,
            score: None,
            truncated: false,
        })
    }

    fn result(items: Vec<ItemResult>) -> BenchmarkResult {
        let config = serde_json::json!({"fewshot": 0, "limit": null, "seed": 1, "prompt_example": "", "prompt_format": "arc",
            "kind": "multiple_choice", "model_sha256": "", "adapter_sha256": null, "data_path": "", "data_sha256": "", "batch": 1,
            "max_length": 64, "truncated_items": 0, "continuations_cut": 0, "skipped_rows": 0, "skipped_examples": [],
            "dtype": "f32", "device": "cpu", "seconds": 0.0, "dtm_studio_version": ""});
        let text = serde_json::json!({"benchmark": "arc", "model": "m", "adapter": null, "n": items.len(), "metrics": {}, "config": config, "items": []});
        let mut r: BenchmarkResult = serde_json::from_value(text).unwrap();
        r.items = items;
        r
    }

    #[test]
    fn lists_only_the_items_answered_differently_with_who_was_right() {
        let a = result(vec![mc("q1", 0), mc("q2", 1), mc("q3", 0), mc("only-a", 1)]);
        let b = result(vec![mc("q1", 0), mc("q2", 0), mc("q3", 1)]);
        let changed = changed_items(&a, &b);
        let ids: Vec<&str> = changed.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["q2", "q3"]);
        assert!(changed[0].fixed() && !changed[0].broke());
        assert_eq!((changed[0].first.text.as_str(), changed[0].second.text.as_str()), ("the Moon", "Mars"));
        assert_eq!(changed[0].gold.as_deref(), Some("Mars"));
        assert!(changed[1].broke());
    }

    #[test]
    fn generated_answers_compare_by_the_extracted_answer() {
        let gen = |id: &str, text: &str, pred: &str, correct: bool| {
            ItemResult::Gen(GenItemResult {
                id: id.into(),
                gold: Some("4".into()),
                generated: text.into(),
                correct,
                pred_strict: Some(pred.into()),
                pred_flexible: None,
                correct_flexible: None,
                correct_loose: None,
                instructions: None,
                generated_tokens: 3,
            })
        };
        let a = result(vec![gen("g1", "It is 4", "4", true), gen("g2", "5 apples", "5", false)]);
        let b = result(vec![gen("g1", "The answer: 4", "4", true), gen("g2", "4 apples", "4", true)]);
        let changed = changed_items(&a, &b);
        assert_eq!(changed.len(), 1, "the same extracted answer in other words is no change");
        assert_eq!((changed[0].id.as_str(), changed[0].second.text.as_str()), ("g2", "4"));
        assert!(changed[0].fixed());
    }
}
