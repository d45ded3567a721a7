//! Tabular files: CSV (with a header row) and Parquet. Each row becomes a flat JSON object of
//! text cells, read with a [`ColumnMapping`] like an Alpaca record.

use super::error::{DataError, Result, RowRef};
use super::example::{ColumnMapping, LoadDataOptions};
use super::source::{strip_bom, RawRecord};
use serde_json::{Map, Value};
use std::path::Path;

/// The mapping to use for a table with these columns: the given one (all its columns must
/// exist) or a guess from the names. Errors name the missing columns and the present ones.
pub(crate) fn resolve_mapping(path: &Path, columns: &[String], given: Option<&ColumnMapping>) -> Result<ColumnMapping> {
    let missing_error = |missing: Vec<String>, hint: String| DataError::MissingColumns {
        path: path.to_path_buf(),
        missing,
        present: columns.iter().map(|c| format!("'{c}'")).collect(),
        hint,
    };
    match given {
        Some(m) => {
            let missing: Vec<String> = m
                .named_columns()
                .into_iter()
                .filter(|(_, c)| !columns.iter().any(|have| have == c))
                .map(|(role, c)| format!("'{c}' ({role})"))
                .collect();
            if missing.is_empty() {
                Ok(m.clone())
            } else {
                Err(missing_error(
                    missing,
                    "Fix the column mapping (`columns`, e.g. instruction=COL,output=COL) or the file's header.".into(),
                ))
            }
        }
        None => ColumnMapping::guess(columns).ok_or_else(|| {
            let mut missing = Vec::new();
            if !ColumnMapping::INSTRUCTION_NAMES.iter().any(|n| columns.iter().any(|c| c == n)) {
                missing.push(format!("an instruction column ({})", ColumnMapping::INSTRUCTION_NAMES.join(" / ")));
            }
            if !ColumnMapping::OUTPUT_NAMES.iter().any(|n| columns.iter().any(|c| c == n)) {
                missing.push(format!("a response column ({})", ColumnMapping::OUTPUT_NAMES.join(" / ")));
            }
            missing_error(missing, "Name the columns with a mapping (`columns`, e.g. prompt=question,response=answer).".into())
        }),
    }
}

/// Reads a CSV (or, for `.tsv`, tab-separated) file with a header row.
pub(crate) fn csv_records(path: &Path, bytes: &[u8], opts: &LoadDataOptions) -> Result<(Vec<RawRecord>, ColumnMapping)> {
    let tsv = path.extension().and_then(|e| e.to_str()).map(|e| e.eq_ignore_ascii_case("tsv")).unwrap_or(false);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).delimiter(if tsv { b'\t' } else { b',' }).from_reader(strip_bom(bytes));
    let csv_error = |e: csv::Error| DataError::Csv {
        path: path.to_path_buf(),
        line: e.position().map(|p| p.line() as usize).unwrap_or(0),
        detail: e.to_string(),
    };
    let headers: Vec<String> = reader.headers().map_err(csv_error)?.iter().map(|h| h.trim().to_string()).collect();
    if headers.iter().all(String::is_empty) {
        return Err(DataError::Empty { path: path.to_path_buf(), detail: " (no header row)".into() });
    }
    let mapping = resolve_mapping(path, &headers, opts.columns.as_ref())?;
    let mut records = Vec::new();
    for (row, result) in reader.records().enumerate() {
        let (line, value) = match result {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
                let size = rec.as_byte_record().as_slice().len() as u64;
                if size > opts.max_line_bytes {
                    return Err(DataError::TooLarge {
                        path: path.to_path_buf(),
                        what: format!("the record at line {line}"),
                        size_bytes: size,
                        limit_bytes: opts.max_line_bytes,
                        hint: "check the file's quoting, or raise the limit (max_line_bytes) if the record is genuine".into(),
                    });
                }
                let obj: Map<String, Value> = headers.iter().cloned().zip(rec.iter().map(|c| Value::String(c.to_string()))).collect();
                (line, Ok(Value::Object(obj)))
            }
            Err(e) => {
                let err = csv_error(e);
                let line = match &err {
                    DataError::Csv { line, .. } => *line,
                    _ => 0,
                };
                (line, Err(err))
            }
        };
        records.push(RawRecord { at: RowRef { row, line }, value });
    }
    Ok((records, mapping))
}

/// Reads a Parquet file's rows as JSON objects (nested lists and structs included, so a
/// `messages` column of `{role, content}` structs reads like OpenAI chat JSONL). Returns the
/// records and the top-level column names.
pub(crate) fn parquet_records(path: &Path) -> Result<(Vec<RawRecord>, Vec<String>)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let pq_error = |e: parquet::errors::ParquetError| {
        let text = e.to_string();
        let hint = if text.to_ascii_lowercase().contains("zstd") || text.contains("Disabled feature") {
            "; this build reads Snappy, LZ4 and gzip Parquet files (build with the `parquet-zstd` feature for zstd), or rewrite the file with compression='snappy'"
        } else {
            ""
        };
        DataError::Parquet { path: path.to_path_buf(), detail: format!("{text}{hint}") }
    };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let reader = SerializedFileReader::new(file).map_err(pq_error)?;
    let columns: Vec<String> = reader.metadata().file_metadata().schema().get_fields().iter().map(|f| f.name().to_string()).collect();
    let mut records = Vec::new();
    for (row, item) in reader.get_row_iter(None).map_err(pq_error)?.enumerate() {
        let value = item.map(|r| r.to_json_value()).map_err(pq_error);
        records.push(RawRecord { at: RowRef { row, line: 0 }, value });
    }
    Ok((records, columns))
}
