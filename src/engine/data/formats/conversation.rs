//! Conversation records: ShareGPT (`conversations: [{from, value}]`) and OpenAI chat
//! (`messages: [{role, content}]`), normalised to a system prompt plus alternating
//! user / assistant turns.

use super::{as_object, other_fields, type_name, Converted, RowProblem};
use crate::engine::data::chat_template::ChatMessage;
use crate::engine::data::error::RowRef;
use crate::engine::data::example::Example;
use serde_json::Value;

/// The normalised role of a ShareGPT `from` or OpenAI `role` tag.
fn normal_role(tag: &str) -> Option<&'static str> {
    match tag.to_ascii_lowercase().as_str() {
        "human" | "user" => Some("user"),
        "gpt" | "assistant" | "chatgpt" | "bard" | "bing" | "model" => Some("assistant"),
        "system" | "developer" => Some("system"),
        _ => None,
    }
}

/// Text of an OpenAI `content`: a string, or a list of `{type: "text", text}` parts.
fn content_text(v: &Value, field: &str) -> Result<String, RowProblem> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                (Some("text") | None, Some(t)) => Ok(t),
                (kind, _) => {
                    Err(RowProblem::malformed(Some(field), format!("has a '{}' part; only text parts are read", kind.unwrap_or("unknown"))))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.concat()),
        Value::Null => Ok(String::new()),
        other => Err(RowProblem::malformed(Some(field), format!("must be text, found {}", type_name(other)))),
    }
}

/// Turns a ShareGPT record into an example.
pub(crate) fn from_sharegpt(value: &Value, at: RowRef) -> Result<Converted, RowProblem> {
    let obj = as_object(value)?;
    let key = if obj.contains_key("conversations") { "conversations" } else { "messages" };
    let items = list(obj, key)?;
    let mut raw = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("{key}[{i}]");
        let tag = item.get("from").or_else(|| item.get("role")).and_then(Value::as_str);
        let text = item.get("value").or_else(|| item.get("content"));
        let (Some(tag), Some(text)) = (tag, text) else {
            return Err(RowProblem::malformed(Some(&field), "must be an object with 'from' and 'value'"));
        };
        raw.push((tag.to_string(), content_text(text, &field)?, field));
    }
    let system = obj.get("system").and_then(Value::as_str).map(str::to_string);
    normalise(at, system, raw, other_fields(obj, &[key, "system"]))
}

/// Turns an OpenAI `messages` record into an example.
pub(crate) fn from_messages(value: &Value, at: RowRef) -> Result<Converted, RowProblem> {
    let obj = as_object(value)?;
    let items = list(obj, "messages")?;
    let mut raw = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("messages[{i}]");
        let Some(tag) = item.get("role").and_then(Value::as_str) else {
            return Err(RowProblem::malformed(Some(&field), "must be an object with 'role' and 'content'"));
        };
        let text = content_text(item.get("content").unwrap_or(&Value::Null), &field)?;
        raw.push((tag.to_string(), text, field));
    }
    normalise(at, None, raw, other_fields(obj, &["messages"]))
}

fn list<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Result<&'a Vec<Value>, RowProblem> {
    match obj.get(key) {
        Some(Value::Array(items)) => Ok(items),
        None => Err(RowProblem::malformed(Some(key), "is missing")),
        Some(v) => Err(RowProblem::malformed(Some(key), format!("must be a list of turns, found {}", type_name(v)))),
    }
}

/// Checks the roles and builds the example: a leading system turn becomes the system prompt,
/// dangling turns at either end are removed (and reported), the rest must alternate.
fn normalise(
    at: RowRef,
    mut system: Option<String>,
    raw: Vec<(String, String, String)>,
    fields: std::collections::BTreeMap<String, String>,
) -> Result<Converted, RowProblem> {
    let mut turns: Vec<(ChatMessage, String)> = Vec::with_capacity(raw.len());
    for (i, (tag, text, field)) in raw.into_iter().enumerate() {
        let role = normal_role(&tag).ok_or_else(|| {
            RowProblem::malformed(
                Some(&field),
                format!("has role '{tag}'; supported: system, user/human, assistant/gpt (tool turns are not trained)"),
            )
        })?;
        if role == "system" {
            if i != 0 {
                return Err(RowProblem::malformed(Some(&field), "is a system turn after the start of the conversation"));
            }
            system = Some(text).filter(|s| !s.trim().is_empty());
            continue;
        }
        turns.push((ChatMessage::new(role, &text), field));
    }
    let mut trimmed = Vec::new();
    while turns.first().map(|(m, _)| m.role == "assistant").unwrap_or(false) {
        let (_, field) = turns.remove(0);
        trimmed.push((field, "leading assistant turn removed (a conversation starts with a user turn)".to_string()));
    }
    while turns.last().map(|(m, _)| m.role == "user").unwrap_or(false) {
        let Some((_, field)) = turns.pop() else { break };
        trimmed.push((field, "trailing user turn without a reply removed".to_string()));
    }
    if turns.is_empty() {
        return Err(RowProblem::empty("conversation", "has no assistant turn after a user turn: the example has no response"));
    }
    for (i, (m, field)) in turns.iter().enumerate() {
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if m.role != expected {
            return Err(RowProblem::malformed(
                Some(field),
                format!("is a second '{}' turn in a row; turns must alternate user / assistant", m.role),
            ));
        }
        if m.role == "assistant" && m.content.trim().is_empty() {
            return Err(RowProblem::empty(field, "is an empty assistant turn: the example has no response there"));
        }
    }
    if turns[0].0.content.trim().is_empty() {
        return Err(RowProblem::empty(&turns[0].1, "is an empty first user turn: the example has no prompt"));
    }
    let turns = turns.into_iter().map(|(m, _)| m).collect();
    Ok(Converted { example: Example { row: at.row, line: at.line, system, turns, fields }, trimmed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::data::validate::IssueKind;
    use serde_json::json;

    const AT: RowRef = RowRef { row: 0, line: 1 };

    #[test]
    fn sharegpt_roles_system_and_trimming() {
        let v = json!({"id": "x1", "conversations": [
            {"from": "system", "value": "sys"}, {"from": "gpt", "value": "hello"},
            {"from": "human", "value": "q1"}, {"from": "gpt", "value": "a1"},
            {"from": "human", "value": "q2"}, {"from": "gpt", "value": "a2"}, {"from": "human", "value": "bye"}]});
        let c = from_sharegpt(&v, AT).unwrap();
        assert_eq!(c.example.system.as_deref(), Some("sys"));
        assert_eq!(c.example.turns.len(), 4);
        assert_eq!(c.example.assistant_turns(), 2);
        assert_eq!(c.trimmed.len(), 2);
        assert_eq!(c.example.fields.get("id").map(String::as_str), Some("x1"));
    }

    #[test]
    fn messages_with_text_parts_and_bad_roles() {
        let v = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                                    {"role": "assistant", "content": "c"}]});
        let ex = from_messages(&v, AT).unwrap().example;
        assert_eq!((ex.instruction_text().as_str(), ex.response_text().as_str()), ("ab", "c"));
        let bad = json!({"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "x"}]});
        let p = from_messages(&bad, AT).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("messages[1]"));
        assert!(p.detail.contains("'tool'"), "{}", p.detail);
    }

    #[test]
    fn no_reply_and_broken_alternation_are_problems() {
        let p = from_messages(&json!({"messages": [{"role": "user", "content": "a"}]}), AT).unwrap_err();
        assert_eq!(p.kind, IssueKind::Empty);
        assert!(p.detail.contains("no response"));
        let v = json!({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]});
        let p = from_messages(&v, AT).unwrap_err();
        assert_eq!((p.kind, p.field.as_deref()), (IssueKind::Malformed, Some("messages[1]")));
    }
}
