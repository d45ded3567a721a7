//! A small TOML task definition for multiple-choice data in any JSON shape:
//!
//! ```toml
//! data = "items.jsonl"                      # JSON Lines or a JSON array, relative to this file
//! prompt = "Question: {question}\nAnswer:"   # {field} or {field.sub}; {{ and }} are literal braces
//! choices = "choices"                       # field holding the list of choices (strings)
//! answer = "answer"                         # field with the index, letter or text of the right choice
//! target_delimiter = " "                   # optional; between the prompt and each choice (lm-eval's default)
//! id = "id"                                 # optional id field
//! fewshot_split = "dev.jsonl"               # optional file of solved examples for few-shot prompts
//! fewshot = 0                               # optional default few-shot count
//! description = ""                          # optional text before the few-shot examples
//! ```

use super::mc_formats::gold_index;
use super::source::{json_records, kind_of, read_text};
use crate::engine::eval::error::{EvalError, Result};
use crate::engine::eval::task::{McItem, SkippedRow};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The parsed definition.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinition {
    /// Data file, relative to the definition.
    pub data: PathBuf,
    /// Prompt template.
    pub prompt: String,
    /// Field with the choices.
    pub choices: String,
    /// Field with the gold answer.
    pub answer: String,
    /// Text between the prompt and each choice.
    #[serde(default = "default_delimiter")]
    pub target_delimiter: String,
    /// Id field.
    #[serde(default)]
    pub id: Option<String>,
    /// File of few-shot examples.
    #[serde(default)]
    pub fewshot_split: Option<PathBuf>,
    /// Default few-shot count.
    #[serde(default)]
    pub fewshot: usize,
    /// Text before the examples.
    #[serde(default)]
    pub description: String,
}

fn default_delimiter() -> String {
    " ".into()
}

/// Expected format, for messages.
pub const TASKDEF_FORMAT: &str =
    "task definition TOML with data, prompt, choices and answer keys (optional: target_delimiter, id, fewshot_split, fewshot, description)";

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| match cur {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Renders `{field}` placeholders from a JSON record.
pub fn render_template(template: &str, record: &Value) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(format!("template '{template}' has an unmatched '}}' (write '}}}}' for a literal brace)"));
        }
        let end = tail.find('}').ok_or_else(|| format!("template '{template}' has an unclosed '{{'"))?;
        let name = tail[1..end].trim();
        match lookup(record, name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Number(n)) => out.push_str(&n.to_string()),
            Some(Value::Bool(b)) => out.push_str(&b.to_string()),
            Some(other) => return Err(format!("field '{name}' is {}; templates take strings and numbers", kind_of(other))),
            None => return Err(format!("field '{name}' (used in the prompt template) is missing")),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses the TOML file.
pub fn read_definition(path: &Path) -> Result<TaskDefinition> {
    let text = read_text(path)?;
    toml::from_str(&text).map_err(|e| EvalError::TaskDefinition { path: path.to_path_buf(), detail: e.to_string() })
}

fn load_file(def: &TaskDefinition, data: &Path) -> Result<(Vec<McItem>, Vec<SkippedRow>)> {
    let (records, skipped) = json_records(data, "JSON Lines (or a JSON array) of objects, as the task definition says")?;
    super::collect_items(data, "JSON records with the fields the task definition names", records, skipped, &[], |line, v| {
        let query = render_template(&def.prompt, v)?;
        let choices: Vec<String> = match lookup(v, &def.choices) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|c| match c {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(format!("choices in '{}' should be strings, found {}", def.choices, kind_of(other))),
                })
                .collect::<std::result::Result<_, _>>()?,
            Some(other) => return Err(format!("field '{}' should be a list of choices but is {}", def.choices, kind_of(other))),
            None => return Err(format!("field '{}' (the choices) is missing", def.choices)),
        };
        if choices.len() < 2 {
            return Err(format!("needs at least 2 choices, has {}", choices.len()));
        }
        let gold = gold_index(lookup(v, &def.answer), &choices)?;
        let id = def
            .id
            .as_deref()
            .and_then(|f| lookup(v, f))
            .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
            .unwrap_or_else(|| format!("line-{line}"));
        Ok(McItem { id, line, query, choices, delimiter: def.target_delimiter.clone(), gold, group: None })
    })
}

/// A definition with its items, few-shot pool and skipped rows.
pub type TaskData = (TaskDefinition, Vec<McItem>, Vec<McItem>, Vec<SkippedRow>);

/// Reads a task definition and its data: `(definition, items, few-shot pool, skipped rows)`.
pub fn load_taskdef(path: &Path) -> Result<TaskData> {
    let def = read_definition(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let (items, mut skipped) = load_file(&def, &base.join(&def.data))?;
    let pool = match &def.fewshot_split {
        Some(f) => {
            let (pool, s) = load_file(&def, &base.join(f))?;
            skipped.extend(s);
            pool
        }
        None => Vec::new(),
    };
    Ok((def, items, pool, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_nested_fields_and_keep_literal_braces() {
        let v: Value = serde_json::json!({"q": {"text": "Why?"}, "n": 3});
        assert_eq!(render_template("{{x}} {q.text} ({n})", &v).unwrap(), "{x} Why? (3)");
        assert!(render_template("{missing}", &v).unwrap_err().contains("missing"));
    }

    #[test]
    fn loads_a_definition_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("d.jsonl"),
            "{\"stem\": \"2+2?\", \"opts\": [\"3\", \"4\"], \"gold\": 1}\n{\"stem\": \"x\", \"opts\": [\"a\", \"b\"]}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("t.toml"),
            "data = \"d.jsonl\"\nprompt = \"Q: {stem}\\nA:\"\nchoices = \"opts\"\nanswer = \"gold\"\n",
        )
        .unwrap();
        let (_, items, pool, skipped) = load_taskdef(&dir.path().join("t.toml")).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].query, "Q: 2+2?\nA:");
        assert_eq!(items[0].continuations(), vec![" 3", " 4"]);
        assert!(pool.is_empty());
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].reason.contains("no gold answer"));
        std::fs::write(dir.path().join("bad.toml"), "data = \"d.jsonl\"\nprompt = 1\n").unwrap();
        assert!(matches!(load_taskdef(&dir.path().join("bad.toml")), Err(EvalError::TaskDefinition { .. })));
    }
}
