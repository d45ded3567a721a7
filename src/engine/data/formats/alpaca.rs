//! Alpaca-style flat records: instruction, optional input, output, optional system and
//! `history: [[user, assistant], ...]` (LLaMA-Factory's layout); column names from a mapping.

use super::{as_object, other_fields, scalar_text, type_name, Converted, RowProblem};
use crate::engine::data::chat_template::ChatMessage;
use crate::engine::data::error::RowRef;
use crate::engine::data::example::{ColumnMapping, Example};
use serde_json::Value;

/// Text of an optional column: absent and null give "", scalars their text.
fn optional_text(obj: &serde_json::Map<String, Value>, key: &str) -> Result<String, RowProblem> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(v) => scalar_text(v).ok_or_else(|| RowProblem::malformed(Some(key), format!("must be text, found {}", type_name(v)))),
    }
}

/// Turns an Alpaca record into an example.
pub(crate) fn from_record(value: &Value, at: RowRef, m: &ColumnMapping) -> Result<Converted, RowProblem> {
    let obj = as_object(value)?;
    if !obj.contains_key(&m.instruction) {
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        return Err(RowProblem::malformed(Some(&m.instruction), format!("is missing (the record has: {})", keys.join(", "))));
    }
    let instruction = optional_text(obj, &m.instruction)?;
    let input = match &m.input {
        Some(k) => optional_text(obj, k)?,
        None => String::new(),
    };
    let output = match obj.get(&m.output) {
        None | Some(Value::Null) => return Err(RowProblem::empty(&m.output, "is missing: the example has no response")),
        Some(v) => scalar_text(v).ok_or_else(|| RowProblem::malformed(Some(&m.output), format!("must be text, found {}", type_name(v))))?,
    };
    if output.trim().is_empty() {
        return Err(RowProblem::empty(&m.output, "is empty: the example has no response"));
    }
    if instruction.trim().is_empty() && input.trim().is_empty() {
        return Err(RowProblem::empty(&m.instruction, "is empty (and there is no input): the example has no prompt"));
    }
    let system = match &m.system {
        Some(k) => Some(optional_text(obj, k)?).filter(|s| !s.trim().is_empty()),
        None => None,
    };
    let mut turns = history(obj)?;
    let user = match (instruction.trim().is_empty(), input.trim().is_empty()) {
        (false, true) => instruction,
        (true, false) => input.clone(),
        _ => format!("{instruction}\n\n{input}"),
    };
    turns.push(ChatMessage::new("user", &user));
    turns.push(ChatMessage::new("assistant", &output));
    let mut used: Vec<&str> = vec![m.instruction.as_str(), m.output.as_str(), "history"];
    used.extend(m.input.as_deref());
    used.extend(m.system.as_deref());
    let mut fields = other_fields(obj, &used);
    if !input.trim().is_empty() {
        fields.insert(Example::INPUT_FIELD.to_string(), input);
    }
    Ok(Converted { example: Example { row: at.row, line: at.line, system, turns, fields }, trimmed: Vec::new() })
}

/// Earlier turns from `history: [[user, assistant], ...]`.
fn history(obj: &serde_json::Map<String, Value>) -> Result<Vec<ChatMessage>, RowProblem> {
    let items = match obj.get("history") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(v) => {
            return Err(RowProblem::malformed(
                Some("history"),
                format!("must be a list of [user, assistant] pairs, found {}", type_name(v)),
            ))
        }
    };
    let mut turns = Vec::with_capacity(items.len() * 2);
    for (i, pair) in items.iter().enumerate() {
        let field = format!("history[{i}]");
        let texts: Vec<Option<&str>> = pair.as_array().map(|p| p.iter().map(Value::as_str).collect()).unwrap_or_default();
        match texts.as_slice() {
            [Some(user), Some(assistant)] => {
                if assistant.trim().is_empty() {
                    return Err(RowProblem::empty(&field, "has an empty assistant turn"));
                }
                turns.push(ChatMessage::new("user", user));
                turns.push(ChatMessage::new("assistant", assistant));
            }
            _ => return Err(RowProblem::malformed(Some(&field), "must be a pair of texts [user, assistant]")),
        }
    }
    Ok(turns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(v: Value) -> Result<Converted, RowProblem> {
        from_record(&v, RowRef { row: 3, line: 9 }, &ColumnMapping::default())
    }

    #[test]
    fn instruction_and_input_join_and_input_is_kept_apart() {
        let ex = conv(json!({"instruction": "Add", "input": "1 2", "output": "3", "category": "math", "n": 4})).unwrap().example;
        assert_eq!(ex.instruction_text(), "Add\n\n1 2");
        assert_eq!(ex.response_text(), "3");
        assert_eq!(ex.input_text(), "1 2");
        assert_eq!(ex.fields.get("category").map(String::as_str), Some("math"));
        assert_eq!(ex.fields.get("n").map(String::as_str), Some("4"));
        assert_eq!((ex.row, ex.line), (3, 9));
    }

    #[test]
    fn history_becomes_earlier_turns() {
        let ex = conv(json!({"instruction": "q2", "output": "a2", "system": "be brief", "history": [["q1", "a1"]]})).unwrap().example;
        let roles: Vec<_> = ex.turns.iter().map(|t| (t.role.as_str(), t.content.as_str())).collect();
        assert_eq!(roles, vec![("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]);
        assert_eq!(ex.system.as_deref(), Some("be brief"));
        assert_eq!(ex.instruction_text(), "q1");
    }

    #[test]
    fn missing_or_empty_response_is_an_empty_problem() {
        for v in [json!({"instruction": "a"}), json!({"instruction": "a", "output": "  "}), json!({"instruction": "a", "output": null})] {
            let p = conv(v).unwrap_err();
            assert_eq!(p.kind, crate::engine::data::validate::IssueKind::Empty);
            assert_eq!(p.field.as_deref(), Some("output"));
            assert!(p.detail.contains("no response"), "{}", p.detail);
        }
        let p = conv(json!({"instruction": "a", "output": ["x"]})).unwrap_err();
        assert!(p.detail.contains("must be text, found an array"));
    }
}
