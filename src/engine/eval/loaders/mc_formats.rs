//! Multiple-choice JSON formats: ARC and OpenBookQA, PIQA (+ labels file), BoolQ, HellaSwag and
//! the generic `{question, choices[], answer}`. Prompts follow lm-evaluation-harness.

use super::collect_items;
use super::source::{json_records, kind_of, read_text, str_field};
use crate::engine::eval::error::{EvalError, Result};
use crate::engine::eval::task::{McItem, SkippedRow};
use serde_json::Value;
use std::path::Path;

/// Expected format of ARC / OpenBookQA files, for messages.
pub const ARC_FORMAT: &str =
    "ARC/OpenBookQA JSONL: one object per line {id, question: {stem, choices: [{text, label}]}, answerKey} (the Hugging Face layout {id, question, choices: {text: [..], label: [..]}, answerKey} works too)";
/// Expected format of PIQA files.
pub const PIQA_FORMAT: &str = "PIQA JSONL {goal, sol1, sol2}, with the labels (one 0/1 per line) in a file given as piqa:DATA.jsonl,LABELS.lst or found beside it as <name>-labels.lst (or a `label` field)";
/// Expected format of BoolQ files.
pub const BOOLQ_FORMAT: &str = "BoolQ JSONL {question, passage, answer: true/false} (or `label`: 0/1)";
/// Expected format of HellaSwag files.
pub const HELLASWAG_FORMAT: &str = "HellaSwag JSONL {activity_label, ctx_a, ctx_b (or ctx), endings: [4 strings], label}";
/// Expected format of the generic multiple-choice JSONL.
pub const GENERIC_FORMAT: &str =
    "multiple-choice JSONL {question, choices: [strings], answer: index, letter or the right choice's text} (optional id)";

/// Which prompt an ARC-schema file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArcPrompt {
    /// `"Question: {stem}\nAnswer:"` (ARC).
    Arc,
    /// `"{stem}"` (OpenBookQA).
    OpenBookQa,
}

fn record_id(v: &Value, line: usize) -> String {
    match v.get("id").or_else(|| v.get("key")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("line-{line}"),
    }
}

/// Reads an ARC or OpenBookQA JSONL file.
pub fn load_arc(path: &Path, prompt: ArcPrompt) -> Result<(Vec<McItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, ARC_FORMAT)?;
    collect_items(path, ARC_FORMAT, records, skipped, &["question"], |line, v| {
        let (stem, texts, labels) = match v.get("question") {
            Some(Value::Object(q)) => {
                let q = Value::Object(q.clone());
                let stem = str_field(&q, "stem")?.to_string();
                let choices = q.get("choices").and_then(Value::as_array).ok_or("question.choices should be an array of {text, label}")?;
                let mut texts = Vec::new();
                let mut labels = Vec::new();
                for c in choices {
                    texts.push(str_field(c, "text").map_err(|e| format!("question.choices: {e}"))?.to_string());
                    labels.push(label_string(c.get("label")).ok_or("question.choices: each choice needs a label")?);
                }
                (stem, texts, labels)
            }
            Some(Value::String(stem)) => {
                let c = v.get("choices").ok_or("field 'choices' is missing")?;
                (stem.clone(), string_list(c.get("text"), "choices.text")?, string_list(c.get("label"), "choices.label")?)
            }
            Some(other) => return Err(format!("field 'question' should be an object {{stem, choices}} but is {}", kind_of(other))),
            None => match v.get("question_stem") {
                Some(Value::String(stem)) => {
                    let c = v.get("choices").ok_or("field 'choices' is missing")?;
                    (stem.clone(), string_list(c.get("text"), "choices.text")?, string_list(c.get("label"), "choices.label")?)
                }
                _ => return Err("field 'question' is missing".into()),
            },
        };
        if texts.len() < 2 {
            return Err(format!("needs at least 2 choices, has {}", texts.len()));
        }
        let key =
            label_string(v.get("answerKey")).filter(|k| !k.trim().is_empty()).ok_or("no gold answer: 'answerKey' is missing or empty")?;
        let gold = labels
            .iter()
            .position(|l| l.trim() == key.trim())
            .ok_or_else(|| format!("answerKey '{key}' is not one of the labels {labels:?}"))?;
        let query = match prompt {
            ArcPrompt::Arc => format!("Question: {stem}\nAnswer:"),
            ArcPrompt::OpenBookQa => stem.clone(),
        };
        Ok(McItem { id: record_id(v, line), line, query, choices: texts, delimiter: " ".into(), gold, group: None })
    })
}

fn label_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn string_list(v: Option<&Value>, name: &str) -> std::result::Result<Vec<String>, String> {
    let arr = v.and_then(Value::as_array).ok_or_else(|| format!("field '{name}' should be an array"))?;
    arr.iter().map(|x| label_string(Some(x)).ok_or_else(|| format!("field '{name}' should hold strings"))).collect()
}

/// Reads PIQA: the JSONL and its labels (explicit file, `<stem>-labels.lst` beside it, or a
/// `label` field in each record).
pub fn load_piqa(path: &Path, labels: Option<&Path>) -> Result<(Vec<McItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, PIQA_FORMAT)?;
    let beside = path.with_file_name(format!("{}-labels.lst", path.file_stem().and_then(|s| s.to_str()).unwrap_or("")));
    let labels_path = labels.map(Path::to_path_buf).or_else(|| beside.is_file().then_some(beside));
    let labels: Option<Vec<(usize, String)>> = match &labels_path {
        Some(p) => Some(
            read_text(p)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.trim().to_string())).collect(),
        ),
        None => None,
    };
    if let (Some(l), Some(p)) = (&labels, &labels_path) {
        if l.len() != records.len() {
            return Err(EvalError::WrongFormat {
                path: p.clone(),
                expected: PIQA_FORMAT.into(),
                detail: format!("{} labels for {} records in {}", l.len(), records.len(), path.display()),
            });
        }
    }
    let index_of: std::collections::HashMap<usize, usize> = records.iter().enumerate().map(|(i, (line, _))| (*line, i)).collect();
    collect_items(path, PIQA_FORMAT, records, skipped, &["goal", "sol1", "sol2"], |line, v| {
        let goal = str_field(v, "goal")?;
        let choices = vec![str_field(v, "sol1")?.to_string(), str_field(v, "sol2")?.to_string()];
        let label = match (&labels, index_of.get(&line)) {
            (Some(l), Some(&i)) => l[i].1.clone(),
            _ => label_string(v.get("label")).ok_or("no gold answer: no labels file and no 'label' field")?,
        };
        let gold = match label.as_str() {
            "0" => 0,
            "1" => 1,
            other => return Err(format!("label '{other}' should be 0 or 1")),
        };
        Ok(McItem {
            id: record_id(v, line),
            line,
            query: format!("Question: {goal}\nAnswer:"),
            choices,
            delimiter: " ".into(),
            gold,
            group: None,
        })
    })
}

/// Reads BoolQ.
pub fn load_boolq(path: &Path) -> Result<(Vec<McItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, BOOLQ_FORMAT)?;
    collect_items(path, BOOLQ_FORMAT, records, skipped, &["question", "passage"], |line, v| {
        let gold = match (v.get("answer"), v.get("label")) {
            (Some(Value::Bool(b)), _) => usize::from(*b),
            (_, Some(Value::Number(n))) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => n.as_u64().unwrap_or(0) as usize,
            (None, None) => return Err("no gold answer: 'answer' (true/false) is missing".into()),
            _ => return Err("'answer' should be true or false (or 'label' 0 or 1)".into()),
        };
        let query = format!("{}\nQuestion: {}?\nAnswer:", str_field(v, "passage")?, str_field(v, "question")?);
        Ok(McItem {
            id: record_id(v, line),
            line,
            query,
            choices: vec!["no".into(), "yes".into()],
            delimiter: " ".into(),
            gold,
            group: None,
        })
    })
}

/// lm-eval's HellaSwag text clean-up.
pub fn hellaswag_preprocess(text: &str) -> String {
    let text = text.trim().replace(" [title]", ". ");
    let text = strip_brackets(&text);
    text.replace("  ", " ")
}

/// Removes `[...]` spans (non-greedy, like `re.sub("\\[.*?\\]", "", text)`).
fn strip_brackets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        match rest[open + 1..].find([']', '\n']) {
            Some(rel) if rest.as_bytes()[open + 1 + rel] == b']' => {
                out.push_str(&rest[..open]);
                rest = &rest[open + 1 + rel + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Python's `str.capitalize()`: first character upper case, the rest lower case.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

/// Reads HellaSwag with lm-eval's preprocessing.
pub fn load_hellaswag(path: &Path) -> Result<(Vec<McItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, HELLASWAG_FORMAT)?;
    collect_items(path, HELLASWAG_FORMAT, records, skipped, &["endings"], |line, v| {
        let ctx = match (v.get("ctx_a").and_then(Value::as_str), v.get("ctx_b").and_then(Value::as_str)) {
            (Some(a), Some(b)) => format!("{a} {}", capitalize(b)),
            _ => str_field(v, "ctx")?.to_string(),
        };
        let activity = str_field(v, "activity_label")?;
        let endings = string_list(v.get("endings"), "endings")?;
        if endings.len() < 2 {
            return Err(format!("needs at least 2 endings, has {}", endings.len()));
        }
        let gold = match label_string(v.get("label")) {
            Some(l) if !l.trim().is_empty() => l.trim().parse::<usize>().map_err(|_| format!("label '{l}' should be an index"))?,
            _ => return Err("no gold answer: 'label' is missing or empty".into()),
        };
        if gold >= endings.len() {
            return Err(format!("label {gold} is out of range for {} endings", endings.len()));
        }
        let query = hellaswag_preprocess(&format!("{activity}: {ctx}"));
        let choices = endings.iter().map(|e| hellaswag_preprocess(e)).collect();
        Ok(McItem { id: record_id(v, line), line, query, choices, delimiter: " ".into(), gold, group: None })
    })
}

/// Resolves a gold answer given as an index, a letter or the text of the right choice.
pub fn gold_index(answer: Option<&Value>, choices: &[String]) -> std::result::Result<usize, String> {
    let n = choices.len();
    let idx = match answer {
        None | Some(Value::Null) => return Err("no gold answer: 'answer' is missing".into()),
        Some(Value::Number(x)) => x.as_u64().map(|u| u as usize).ok_or_else(|| format!("answer {x} should be a non-negative index"))?,
        Some(Value::String(s)) if s.trim().is_empty() => return Err("no gold answer: 'answer' is empty".into()),
        Some(Value::String(s)) => {
            let t = s.trim();
            if let Some(i) = choices.iter().position(|c| c.trim() == t) {
                i
            } else if t.len() == 1 && t.as_bytes()[0].is_ascii_uppercase() {
                (t.as_bytes()[0] - b'A') as usize
            } else if let Ok(i) = t.parse::<usize>() {
                i
            } else {
                return Err(format!("answer '{t}' is neither an index, a letter nor one of the choices"));
            }
        }
        Some(other) => return Err(format!("answer should be an index, a letter or a choice's text but is {}", kind_of(other))),
    };
    if idx >= n {
        return Err(format!("answer {idx} is out of range for {n} choices"));
    }
    Ok(idx)
}

/// Reads the generic multiple-choice JSONL (ARC-style prompt).
pub fn load_generic(path: &Path) -> Result<(Vec<McItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, GENERIC_FORMAT)?;
    collect_items(path, GENERIC_FORMAT, records, skipped, &["question", "choices"], |line, v| {
        let question = str_field(v, "question")?;
        let choices = string_list(v.get("choices"), "choices")?;
        if choices.len() < 2 {
            return Err(format!("needs at least 2 choices, has {}", choices.len()));
        }
        let gold = gold_index(v.get("answer"), &choices)?;
        Ok(McItem {
            id: record_id(v, line),
            line,
            query: format!("Question: {question}\nAnswer:"),
            choices,
            delimiter: " ".into(),
            gold,
            group: None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellaswag_preprocessing_matches_lm_eval() {
        assert_eq!(
            hellaswag_preprocess(" Removing ice from car: [header] Then, the man [title] writes  over "),
            "Removing ice from car: Then, the man. writes over"
        );
        assert_eq!(capitalize("then HE said"), "Then he said");
    }

    #[test]
    fn gold_answers_resolve_from_index_letter_or_text() {
        let c: Vec<String> = vec!["red".into(), "blue".into(), "green".into()];
        assert_eq!(gold_index(Some(&Value::from(2)), &c), Ok(2));
        assert_eq!(gold_index(Some(&Value::from("B")), &c), Ok(1));
        assert_eq!(gold_index(Some(&Value::from("green")), &c), Ok(2));
        assert!(gold_index(None, &c).unwrap_err().contains("no gold answer"));
        assert!(gold_index(Some(&Value::from(5)), &c).unwrap_err().contains("out of range"));
    }
}
