//! Reading a data file's bytes within bounds, and splitting JSON files into records with their
//! source lines: a JSON array (the line where each element starts) or JSONL (one record a line).

use super::error::{DataError, Result, RowRef};
use super::example::LoadDataOptions;
use serde_json::Value;
use std::path::Path;

/// One record of a JSON file: where it is and its parsed value (or the parser's message).
#[derive(Debug)]
pub(crate) struct RawRecord {
    /// Row and line of the record.
    pub at: RowRef,
    /// The value, or the error of a broken record (a JSONL line that is not JSON, a bad CSV row).
    pub value: Result<Value>,
}

/// Reads the whole file, refusing files over `opts.max_file_bytes` and empty files.
pub(crate) fn read_bounded(path: &Path, opts: &LoadDataOptions) -> Result<Vec<u8>> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(DataError::Io { path: path.to_path_buf(), source: std::io::Error::other("not a file") });
    }
    if meta.len() > opts.max_file_bytes {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            what: "the file".into(),
            size_bytes: meta.len(),
            limit_bytes: opts.max_file_bytes,
            hint: "split it into smaller files or raise the limit (max_file_bytes)".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        let detail = if bytes.is_empty() { String::new() } else { " (only whitespace)".to_string() };
        return Err(DataError::Empty { path: path.to_path_buf(), detail });
    }
    Ok(bytes)
}

/// The bytes after a UTF-8 byte-order mark, if there is one.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes)
}

/// Splits a JSON document into records: a top-level array gives its elements, anything else is
/// read as JSON Lines (or, failing that, a stream of concatenated JSON objects).
pub(crate) fn json_records(path: &Path, bytes: &[u8], opts: &LoadDataOptions) -> Result<Vec<RawRecord>> {
    let body = strip_bom(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => array_records(path, body),
        Some(b'{') => jsonl_records(path, body, opts),
        Some(other) => Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
            detail: format!(
                "starts with '{}', which is neither a JSON array ('[') nor JSON Lines ('{{' on each line); CSV and Parquet files need the .csv / .parquet extension or the `format` setting",
                char::from(*other).escape_default()
            ),
        }),
        None => Err(DataError::Empty { path: path.to_path_buf(), detail: " (only whitespace)".into() }),
    }
}

fn array_records(path: &Path, body: &[u8]) -> Result<Vec<RawRecord>> {
    let values: Vec<Value> =
        serde_json::from_slice(body).map_err(|e| DataError::Json { path: path.to_path_buf(), line: e.line(), detail: json_message(&e) })?;
    let starts = element_starts(body);
    let lines = if starts.len() == values.len() { lines_of(body, &starts) } else { vec![0; values.len()] };
    Ok(values.into_iter().zip(lines).enumerate().map(|(row, (v, line))| RawRecord { at: RowRef { row, line }, value: Ok(v) }).collect())
}

/// Byte offsets where the elements of a top-level JSON array start (valid JSON assumed).
fn element_starts(body: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut expect_element) = (0usize, false, false, false);
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        if depth == 1 && expect_element && b != b']' {
            starts.push(i);
            expect_element = false;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expect_element = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_element = true,
            _ => {}
        }
    }
    starts
}

/// 1-based line numbers of increasing byte offsets.
fn lines_of(body: &[u8], offsets: &[usize]) -> Vec<usize> {
    let (mut line, mut pos) = (1usize, 0usize);
    offsets
        .iter()
        .map(|&off| {
            line += body[pos..off].iter().filter(|&&b| b == b'\n').count();
            pos = off;
            line
        })
        .collect()
}

fn jsonl_records(path: &Path, body: &[u8], opts: &LoadDataOptions) -> Result<Vec<RawRecord>> {
    let mut records = Vec::new();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        if raw.len() as u64 > opts.max_line_bytes {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                what: format!("line {line}"),
                size_bytes: raw.len() as u64,
                limit_bytes: opts.max_line_bytes,
                hint: "one JSONL record per line is expected; raise the limit (max_line_bytes) if the record is genuine".into(),
            });
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value =
            serde_json::from_slice::<Value>(raw).map_err(|e| DataError::Json { path: path.to_path_buf(), line, detail: json_message(&e) });
        if value.is_err() && records.is_empty() {
            if let Some(stream) = object_stream(body) {
                return Ok(stream);
            }
        }
        records.push(RawRecord { at: RowRef { row: records.len(), line }, value });
    }
    Ok(records)
}

/// The parser's message without its "at line L column C" suffix, plus the column.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let bare = text.rfind(" at line ").map(|i| &text[..i]).unwrap_or(&text);
    format!("{bare} (column {})", e.column())
}

/// Reads concatenated (e.g. pretty-printed) JSON objects; `None` unless the whole file parses.
fn object_stream(body: &[u8]) -> Option<Vec<RawRecord>> {
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let mut found = Vec::new();
    let mut start = 0usize;
    while let Some(item) = stream.next() {
        let value = item.ok()?;
        let at = start + body[start..].iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
        found.push((at, value));
        start = stream.byte_offset();
    }
    if found.len() < 2 {
        return None;
    }
    let lines = lines_of(body, &found.iter().map(|(o, _)| *o).collect::<Vec<_>>());
    Some(
        found
            .into_iter()
            .zip(lines)
            .enumerate()
            .map(|(row, ((_, v), line))| RawRecord { at: RowRef { row, line }, value: Ok(v) })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_elements_get_their_start_lines() {
        let text = b"[\n  {\"a\": \"x,]}[\\\"\"},\n  {\"a\": [1, {\"b\": 2}]},\n\n  {\"a\": 3}\n]";
        let recs = array_records(Path::new("t.json"), text).unwrap();
        assert_eq!(recs.iter().map(|r| r.at.line).collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(recs[0].value.as_ref().unwrap()["a"], "x,]}[\"");
    }

    #[test]
    fn jsonl_keeps_line_numbers_across_blank_lines() {
        let recs = jsonl_records(Path::new("t.jsonl"), b"{\"a\":1}\n\n{\"a\":2}\r\n{bad\n", &LoadDataOptions::default()).unwrap();
        assert_eq!(recs.iter().map(|r| (r.at.row, r.at.line)).collect::<Vec<_>>(), vec![(0, 1), (1, 3), (2, 4)]);
        let err = recs[2].value.as_ref().unwrap_err().to_string();
        assert!(err.starts_with("t.jsonl:4: invalid JSON: ") && err.contains("(column 2)"), "{err}");
    }

    #[test]
    fn pretty_printed_objects_are_read_as_a_stream() {
        let recs = jsonl_records(Path::new("t.json"), b"{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n", &LoadDataOptions::default()).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].at.line, 4);
    }
}
