//! Reading benchmark files record by record with the line each record starts on: JSON Lines,
//! JSON arrays and headerless CSV (RFC 4180 quoting, fields may span lines).

use crate::engine::eval::error::{EvalError, Result};
use crate::engine::eval::task::SkippedRow;
use serde_json::Value;
use std::path::Path;

/// Records of a file, each with the 1-based line it starts on.
pub type Records<T> = Vec<(usize, T)>;

/// Reads a whole text file, naming it on failure.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| EvalError::WrongFormat {
        path: path.to_path_buf(),
        expected: "UTF-8 text".into(),
        detail: format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })
}

/// The JSON records of a file: one per line (JSON Lines) or the elements of a top-level array.
/// Lines that are not valid JSON are returned as skipped rows; a file where nothing parses is
/// a [`EvalError::WrongFormat`] naming `expected`.
pub fn json_records(path: &Path, expected: &str) -> Result<(Records<Value>, Vec<SkippedRow>)> {
    let (raw, mut skipped) = raw_json_records(path, expected)?;
    let mut records = Vec::with_capacity(raw.len());
    for (line, text) in raw {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => records.push((line, v)),
            Err(e) => skipped.push(SkippedRow { path: path.to_path_buf(), line, reason: format!("not valid JSON: {e}") }),
        }
    }
    if records.is_empty() && !skipped.is_empty() {
        return Err(EvalError::WrongFormat {
            path: path.to_path_buf(),
            expected: expected.into(),
            detail: format!("no line is a JSON object ({})", skipped[0]),
        });
    }
    Ok((records, skipped))
}

/// The text of each JSON record with the line it starts on (JSON Lines, or the elements of a
/// top-level array), so that callers can deserialise records into their own types (keeping the
/// order of object keys, which `serde_json::Value` does not).
pub fn raw_json_records(path: &Path, expected: &str) -> Result<(Records<String>, Vec<SkippedRow>)> {
    let text = read_text(path)?;
    let body = text.trim_start_matches('\u{feff}');
    let trimmed = body.trim_start();
    if trimmed.starts_with('[') {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(trimmed) {
            return Err(EvalError::WrongFormat {
                path: path.to_path_buf(),
                expected: expected.into(),
                detail: format!("the file starts like a JSON array but is not valid JSON (line {}, column {}): {e}", e.line(), e.column()),
            });
        }
        let lead = body[..body.len() - trimmed.len()].matches('\n').count();
        let records = array_elements(trimmed).into_iter().map(|(line, range)| (line + lead, trimmed[range].to_string())).collect();
        return Ok((records, Vec::new()));
    }
    let records = body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.trim().to_string())).collect();
    Ok((records, Vec::new()))
}

/// Start line and byte range of each top-level element of the JSON array in `text`.
fn array_elements(text: &str) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let (mut depth, mut line, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    let mut current: Option<(usize, usize)> = None;
    let mut expect_element = false;
    for (pos, c) in text.char_indices() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if expect_element && depth == 1 && !c.is_whitespace() && c != ']' {
            current = Some((line, pos));
            expect_element = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expect_element = true;
                }
            }
            ']' | '}' => {
                if depth == 1 {
                    if let Some((l, start)) = current.take() {
                        out.push((l, start..pos));
                    }
                }
                depth = depth.saturating_sub(1);
            }
            ',' if depth == 1 => {
                if let Some((l, start)) = current.take() {
                    out.push((l, start..pos));
                }
                expect_element = true;
            }
            _ => {}
        }
    }
    out
}

/// Headerless CSV records with the 1-based line each starts on. Quoted fields may contain
/// commas, doubled quotes and newlines.
pub fn csv_records(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let text = read_text(path)?;
    parse_csv(text.trim_start_matches('\u{feff}')).map_err(|(line, detail)| EvalError::record(path, line, detail))
}

fn parse_csv(text: &str) -> std::result::Result<Records<Vec<String>>, (usize, String)> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut line, mut start_line, mut in_quotes, mut was_quoted) = (1usize, 1usize, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                in_quotes = true;
                was_quoted = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    records.push((start_line, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                start_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err((start_line, "a quoted CSV field is never closed (a '\"' is missing)".into()));
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        records.push((start_line, fields));
    }
    Ok(records)
}

/// A string field of a JSON object, or why it is missing.
pub fn str_field<'a>(v: &'a Value, key: &str) -> std::result::Result<&'a str, String> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("field '{key}' should be a string but is {}", kind_of(other))),
        None => Err(format!("field '{key}' is missing")),
    }
}

/// A JSON value's kind, for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_commas_and_multiline_fields() {
        let text = "q1,\"a, b\",c\n\"multi\nline\",\"say \"\"hi\"\"\",x\r\nlast,1,2";
        let recs = parse_csv(text).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0], (1, vec!["q1".to_string(), "a, b".into(), "c".into()]));
        assert_eq!(recs[1], (2, vec!["multi\nline".to_string(), "say \"hi\"".into(), "x".into()]));
        assert_eq!(recs[2], (4, vec!["last".to_string(), "1".into(), "2".into()]));
    }

    #[test]
    fn unclosed_quote_names_the_line() {
        let err = parse_csv("a,b\n\"open,c\nd").unwrap_err();
        assert_eq!(err.0, 2);
    }

    #[test]
    fn array_elements_get_their_start_lines_and_text() {
        let text = "[\n  {\"a\": \"x,]\"},\n  {\n   \"b\": [1, 2]\n  },\n  3\n]";
        let got: Vec<(usize, &str)> = array_elements(text).into_iter().map(|(l, r)| (l, text[r].trim())).collect();
        assert_eq!(got, vec![(2, "{\"a\": \"x,]\"}"), (3, "{\n   \"b\": [1, 2]\n  }"), (6, "3")]);
    }

    #[test]
    fn jsonl_reports_bad_lines_and_wrong_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, "{\"a\": 1}\n\nnot json\n{\"a\": 2}\n").unwrap();
        let (recs, skipped) = json_records(&p, "JSONL").unwrap();
        assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line, 3);
        std::fs::write(&p, "a,b,c\nd,e,f\n").unwrap();
        let err = json_records(&p, "ARC JSONL").unwrap_err().to_string();
        assert!(err.contains("not in the expected format (ARC JSONL)"), "{err}");
    }
}
