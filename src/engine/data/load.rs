//! `load_dataset`: read a file, recognise its format, turn every record into an example, and
//! report what was skipped, trimmed or duplicated.

use super::error::{DataError, Result, RowRef};
use super::example::{ColumnMapping, DataFormat, Dataset, Example, LoadDataOptions};
use super::formats::{self, RowProblem};
use super::source::{json_records, read_bounded, RawRecord};
use super::validate::{count_examples, mark_duplicates, Issue, IssueKind, ValidationReport};
use crate::engine::job::{CancelToken, EventSink, StageScope};
use std::path::Path;

/// Reads an instruction-data file (Alpaca JSON/JSONL, ShareGPT, OpenAI `messages` JSONL, CSV or
/// Parquet) into examples with a validation report.
///
/// A malformed record (invalid JSON line, missing or empty response, wrong type, bad role order)
/// stops loading with an error naming the file, line / row and field, unless
/// `opts.skip_bad_rows` is set: then it is skipped and counted. Empty files, files over the size
/// bound and unknown shapes are always errors.
pub fn load_dataset(path: &Path, opts: &LoadDataOptions) -> Result<Dataset> {
    let (sink, cancel) = (EventSink::discard(), CancelToken::new());
    load_dataset_in(path, opts, &StageScope { name: "data", sink: &sink, cancel: &cancel })
}

/// [`load_dataset`] inside a stage: reports the records converted as progress of `scope` and
/// stops between records when it is cancelled.
pub fn load_dataset_in(path: &Path, opts: &LoadDataOptions, scope: &StageScope<'_>) -> Result<Dataset> {
    let bytes = read_bounded(path, opts)?;
    scope.check()?;
    let sha256 = crate::engine::hash::sha256_hex(&bytes);
    let container = container(path, &bytes, opts.format);
    let (records, shape, mapping) = match container {
        DataFormat::Csv => {
            let (records, mapping) = super::table::csv_records(path, &bytes, opts)?;
            (records, DataFormat::Alpaca, mapping)
        }
        DataFormat::Parquet => {
            let (records, columns) = super::table::parquet_records(path)?;
            let first = records.iter().find_map(|r| r.value.as_ref().ok());
            let shape = first.and_then(|v| formats::detect_json(v, opts.columns.as_ref())).unwrap_or(DataFormat::Alpaca);
            let mapping = match shape {
                DataFormat::Alpaca => super::table::resolve_mapping(path, &columns, opts.columns.as_ref())?,
                _ => ColumnMapping::default(),
            };
            (records, shape, mapping)
        }
        shape => {
            let records = json_records(path, &bytes, opts)?;
            let first = records.iter().find_map(|r| r.value.as_ref().ok());
            let shape = match (opts.format, first) {
                (Some(_), _) => shape,
                (None, Some(v)) => formats::detect_json(v, opts.columns.as_ref()).ok_or_else(|| unknown_shape(path, v))?,
                (None, None) => DataFormat::Alpaca,
            };
            let mapping = opts.columns.clone().or_else(|| first.and_then(guess_mapping)).unwrap_or_default();
            (records, shape, mapping)
        }
    };
    drop(bytes);
    if records.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), detail: " (no records)".into() });
    }
    let mut report = ValidationReport { records: records.len(), ..Default::default() };
    let mut examples: Vec<Example> = Vec::with_capacity(records.len());
    let total = records.len() as u64;
    scope.check()?;
    for (i, RawRecord { at, value }) in records.into_iter().enumerate() {
        if i % 4096 == 0 {
            scope.check()?;
            scope.progress(i as u64, total, "records");
        }
        let converted = match value {
            Ok(v) => formats::convert(shape, &v, at, &mapping).map_err(|p| row_error(path, at, p)),
            Err(e) => Err((IssueKind::Malformed, e)),
        };
        match converted {
            Ok(c) => {
                for (field, message) in c.trimmed {
                    report.push(Issue { kind: IssueKind::Trimmed, row: at.row, line: at.line, field: Some(field), message });
                }
                examples.push(c.example);
            }
            Err((kind, err)) if opts.skip_bad_rows => {
                let (field, message) = match &err {
                    DataError::Row { field, detail, .. } => (field.clone(), detail.clone()),
                    DataError::Json { detail, .. } => (None, format!("invalid JSON: {detail}")),
                    DataError::Csv { detail, .. } => (None, format!("CSV: {detail}")),
                    other => (None, other.to_string()),
                };
                report.push(Issue { kind, row: at.row, line: at.line, field, message });
            }
            Err((_, DataError::Row { path, at, field, detail })) => {
                let detail = format!("{detail} (fix the record, or skip bad rows with `skip_bad_rows`)");
                return Err(DataError::Row { path, at, field, detail });
            }
            Err((_, err)) => return Err(err),
        }
    }
    if examples.is_empty() {
        let first = report.issues.first().map(|i| format!("; first: {i}")).unwrap_or_default();
        let detail = format!(
            " of usable examples: all {} records were skipped ({} malformed, {} empty{first})",
            report.records, report.malformed, report.empty
        );
        return Err(DataError::Empty { path: path.to_path_buf(), detail });
    }
    mark_duplicates(&mut examples, &mut report, opts.drop_duplicates);
    count_examples(&examples, &mut report);
    scope.progress(total, total, "records");
    // CSV and Parquet name their container; JSON files the shape of their records.
    let format = if matches!(container, DataFormat::Csv | DataFormat::Parquet) { container } else { shape };
    Ok(Dataset { path: path.to_path_buf(), format, sha256, examples, report })
}

/// The container to read: the forced format, else by extension and magic bytes (JSON otherwise).
fn container(path: &Path, bytes: &[u8], forced: Option<DataFormat>) -> DataFormat {
    if let Some(f) = forced {
        return f;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if bytes.starts_with(b"PAR1") || ext == "parquet" || ext == "pq" {
        DataFormat::Parquet
    } else if ext == "csv" || ext == "tsv" {
        DataFormat::Csv
    } else {
        DataFormat::Alpaca
    }
}

/// The mapping for JSON records, guessed from the first one. Optional keys vary between JSON
/// records, so `input` and `system` are read whenever a record has them.
fn guess_mapping(first: &serde_json::Value) -> Option<ColumnMapping> {
    let keys: Vec<String> = first.as_object()?.keys().cloned().collect();
    let mut m = ColumnMapping::guess(&keys)?;
    m.input = m.input.or_else(|| Some("input".into()));
    m.system = m.system.or_else(|| Some("system".into()));
    Some(m)
}

fn unknown_shape(path: &Path, first: &serde_json::Value) -> DataError {
    let found = match first.as_object() {
        Some(o) => format!("records with keys {}", o.keys().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")),
        None => format!("records that are {}", formats::type_name(first)),
    };
    DataError::UnknownFormat {
        path: path.to_path_buf(),
        detail: format!(
            "found {found}; expected Alpaca (instruction/input/output), ShareGPT (conversations), OpenAI chat (messages), or flat records named by a column mapping (`columns`, e.g. prompt=question,response=answer)"
        ),
    }
}

fn row_error(path: &Path, at: RowRef, p: RowProblem) -> (IssueKind, DataError) {
    (p.kind, DataError::Row { path: path.to_path_buf(), at, field: p.field, detail: p.detail })
}
