//! Generative benchmark files: GSM8K (`{question, answer}` with `#### N`) and IFEval
//! (`{key, prompt, instruction_id_list, kwargs}`).

use super::collect_items;
use super::source::{json_records, str_field};
use crate::engine::eval::error::Result;
use crate::engine::eval::ifeval::KNOWN_INSTRUCTIONS;
use crate::engine::eval::task::{Gsm8kItem, IfEvalItem, Instruction, SkippedRow};
use serde_json::Value;
use std::path::Path;

/// Expected format of GSM8K files.
pub const GSM8K_FORMAT: &str = "GSM8K JSONL {question, answer}, the answer ending in a line '#### <number>'";
/// Expected format of IFEval files.
pub const IFEVAL_FORMAT: &str = "IFEval JSONL {key, prompt, instruction_id_list: [..], kwargs: [{..}, ..]}";

/// The number after the last `####` of a GSM8K answer, with thousands separators removed.
pub fn gsm8k_gold(answer: &str) -> Option<String> {
    let (_, tail) = answer.rsplit_once("####")?;
    let n = tail.trim().replace(',', "");
    (!n.is_empty()).then_some(n)
}

/// Reads GSM8K.
pub fn load_gsm8k(path: &Path) -> Result<(Vec<Gsm8kItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, GSM8K_FORMAT)?;
    collect_items(path, GSM8K_FORMAT, records, skipped, &["question"], |line, v| {
        let question = str_field(v, "question")?;
        let target = match v.get("answer") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err("no gold answer: 'answer' is missing or empty".into()),
        };
        let gold = gsm8k_gold(&target).ok_or("no gold answer: 'answer' has no '#### <number>' line")?;
        let id = match v.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => format!("line-{line}"),
        };
        Ok(Gsm8kItem { id, line, query: format!("Question: {question}\nAnswer:"), target, gold })
    })
}

/// Reads IFEval input data. Unknown instruction ids make the row skipped (with the id named).
pub fn load_ifeval(path: &Path) -> Result<(Vec<IfEvalItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(path, IFEVAL_FORMAT)?;
    collect_items(path, IFEVAL_FORMAT, records, skipped, &["prompt", "instruction_id_list"], |line, v| {
        let prompt = str_field(v, "prompt")?.to_string();
        let ids = v.get("instruction_id_list").and_then(Value::as_array).ok_or("'instruction_id_list' should be an array of strings")?;
        let empty = Vec::new();
        let kwargs = match v.get("kwargs") {
            Some(Value::Array(k)) => k,
            None | Some(Value::Null) => &empty,
            Some(_) => return Err("'kwargs' should be an array of objects, one per instruction".into()),
        };
        if ids.is_empty() {
            return Err("no gold answer: 'instruction_id_list' is empty".into());
        }
        if !kwargs.is_empty() && kwargs.len() != ids.len() {
            return Err(format!("{} instruction ids but {} kwargs objects", ids.len(), kwargs.len()));
        }
        let mut instructions = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let id = id.as_str().ok_or("'instruction_id_list' should hold strings")?;
            if !KNOWN_INSTRUCTIONS.contains(&id) {
                return Err(format!("instruction '{id}' has no checker (known: {})", KNOWN_INSTRUCTIONS.join(", ")));
            }
            // IFEval drops arguments whose value is falsy (None, 0, "", []) before building.
            let args: serde_json::Map<String, Value> = match kwargs.get(i) {
                Some(Value::Object(m)) => m.iter().filter(|(_, v)| is_truthy(v)).map(|(k, v)| (k.clone(), v.clone())).collect(),
                Some(Value::Null) | None => serde_json::Map::new(),
                Some(_) => return Err(format!("kwargs[{i}] should be an object")),
            };
            instructions.push(Instruction { id: id.to_string(), kwargs: args });
        }
        let id = match v.get("key") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => format!("line-{line}"),
        };
        Ok(IfEvalItem { id, line, prompt, instructions })
    })
}

fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|x| x != 0.0).unwrap_or(true),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm8k_gold_is_the_number_after_the_marks() {
        assert_eq!(gsm8k_gold("She has 3 + 4 = <<3+4=7>>7 apples.\n#### 1,234").as_deref(), Some("1234"));
        assert_eq!(gsm8k_gold("no marks"), None);
    }

    #[test]
    fn ifeval_rows_with_unknown_ids_or_no_instructions_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("if.jsonl");
        let rows = [
            r#"{"key": 1, "prompt": "Hi", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"unused": null}]}"#,
            r#"{"key": 2, "prompt": "Hi", "instruction_id_list": ["made:up"], "kwargs": [{}]}"#,
            r#"{"key": 3, "prompt": "Hi", "instruction_id_list": [], "kwargs": []}"#,
        ];
        std::fs::write(&p, rows.join("\n")).unwrap();
        let (items, skipped) = load_ifeval(&p).unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0].instructions[0].kwargs.is_empty());
        assert_eq!(skipped.iter().map(|s| s.line).collect::<Vec<_>>(), vec![2, 3]);
        assert!(skipped[0].reason.contains("made:up"));
    }
}
