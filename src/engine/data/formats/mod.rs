//! Record shapes: recognising a file's format from its records, and turning one record of each
//! format into an [`Example`](super::example::Example).

pub(crate) mod alpaca;
pub(crate) mod conversation;

use super::error::RowRef;
use super::example::{ColumnMapping, DataFormat, Example};
use super::validate::IssueKind;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why one record could not be turned into an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowProblem {
    /// Malformed or Empty.
    pub kind: IssueKind,
    /// The field at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub detail: String,
}

impl RowProblem {
    pub(crate) fn malformed(field: Option<&str>, detail: impl Into<String>) -> Self {
        Self { kind: IssueKind::Malformed, field: field.map(str::to_string), detail: detail.into() }
    }
    pub(crate) fn empty(field: &str, detail: impl Into<String>) -> Self {
        Self { kind: IssueKind::Empty, field: Some(field.to_string()), detail: detail.into() }
    }
}

/// An example and the repairs made on the way (dangling turns removed).
#[derive(Debug, Clone)]
pub(crate) struct Converted {
    /// The example.
    pub example: Example,
    /// (field, message) of each repair.
    pub trimmed: Vec<(String, String)>,
}

/// Recognises the format of a JSON record from its keys.
pub(crate) fn detect_json(first: &Value, mapping: Option<&ColumnMapping>) -> Option<DataFormat> {
    let obj = first.as_object()?;
    if obj.contains_key("conversations") {
        return Some(DataFormat::ShareGpt);
    }
    if let Some(Value::Array(items)) = obj.get("messages") {
        let sharegpt_style =
            items.first().and_then(Value::as_object).map(|m| m.contains_key("from") && m.contains_key("value")).unwrap_or(false);
        return Some(if sharegpt_style { DataFormat::ShareGpt } else { DataFormat::Messages });
    }
    let keys: Vec<String> = obj.keys().cloned().collect();
    let mapped = mapping.map(|m| keys.contains(&m.instruction) && keys.contains(&m.output)).unwrap_or(false);
    (mapped || ColumnMapping::guess(&keys).is_some()).then_some(DataFormat::Alpaca)
}

/// Turns one record of the given shape into an example. CSV rows arrive as JSON objects of
/// strings, Parquet rows as JSON objects.
pub(crate) fn convert(format: DataFormat, value: &Value, at: RowRef, mapping: &ColumnMapping) -> Result<Converted, RowProblem> {
    match format {
        DataFormat::Alpaca | DataFormat::Csv | DataFormat::Parquet => alpaca::from_record(value, at, mapping),
        DataFormat::ShareGpt => conversation::from_sharegpt(value, at),
        DataFormat::Messages => conversation::from_messages(value, at),
    }
}

/// A JSON scalar as text (`None` for null, arrays and objects).
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The record as an object, or a problem saying what it is instead.
pub(crate) fn as_object(v: &Value) -> Result<&serde_json::Map<String, Value>, RowProblem> {
    v.as_object().ok_or_else(|| RowProblem::malformed(None, format!("must be a JSON object (a record), found {}", type_name(v))))
}

/// The scalar columns of `obj` other than `used`, as text.
pub(crate) fn other_fields(obj: &serde_json::Map<String, Value>, used: &[&str]) -> BTreeMap<String, String> {
    obj.iter()
        .filter(|(k, _)| !used.contains(&k.as_str()) && k.as_str() != Example::INPUT_FIELD)
        .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn detects_each_json_shape() {
        assert_eq!(detect_json(&json!({"instruction": "a", "input": "", "output": "b"}), None), Some(DataFormat::Alpaca));
        assert_eq!(detect_json(&json!({"prompt": "a", "completion": "b"}), None), Some(DataFormat::Alpaca));
        assert_eq!(detect_json(&json!({"conversations": [{"from": "human", "value": "a"}]}), None), Some(DataFormat::ShareGpt));
        assert_eq!(detect_json(&json!({"messages": [{"from": "human", "value": "a"}]}), None), Some(DataFormat::ShareGpt));
        assert_eq!(detect_json(&json!({"messages": [{"role": "user", "content": "a"}]}), None), Some(DataFormat::Messages));
        assert_eq!(detect_json(&json!({"text": "a"}), None), None);
        let m = ColumnMapping::parse("prompt=q,response=a").unwrap();
        assert_eq!(detect_json(&json!({"q": "a", "a": "b"}), Some(&m)), Some(DataFormat::Alpaca));
    }
}
