//! The in-memory form of instruction data: one [`Example`] per record, whatever the file format,
//! and the [`Dataset`] that holds them with the file's identity and its validation report.

use super::chat_template::ChatMessage;
use super::error::{DataError, Result};
use super::validate::ValidationReport;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One instruction example: an optional system prompt and a conversation that starts with a
/// user turn and alternates user / assistant, ending with an assistant turn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    /// 0-based index of the record in the file.
    pub row: usize,
    /// 1-based source line where the record starts; 0 if unknown (Parquet).
    pub line: usize,
    /// The system prompt, when the record has one.
    pub system: Option<String>,
    /// User / assistant turns, alternating, the first a user turn.
    pub turns: Vec<ChatMessage>,
    /// Other scalar columns (e.g. "category", "source"), as text. For Alpaca-style records the
    /// raw `input` column is kept here too (key [`Example::INPUT_FIELD`]), because the Alpaca
    /// template shows it apart from the instruction.
    pub fields: BTreeMap<String, String>,
}

impl Example {
    /// Key in [`Example::fields`] holding an Alpaca record's `input` text.
    pub const INPUT_FIELD: &'static str = "input";

    /// The first user turn (for Alpaca records: instruction, plus "\n\n" and the input when the
    /// input is not empty).
    pub fn instruction_text(&self) -> String {
        self.turns.iter().find(|t| t.role == "user").map(|t| t.content.clone()).unwrap_or_default()
    }

    /// The first assistant turn.
    pub fn response_text(&self) -> String {
        self.turns.iter().find(|t| t.role == "assistant").map(|t| t.content.clone()).unwrap_or_default()
    }

    /// The Alpaca `input` text (empty for records without one).
    pub fn input_text(&self) -> &str {
        self.fields.get(Self::INPUT_FIELD).map(String::as_str).unwrap_or("")
    }

    /// Number of assistant turns.
    pub fn assistant_turns(&self) -> usize {
        self.turns.iter().filter(|t| t.role == "assistant").count()
    }
}

/// The record shapes DTM Studio reads. JSON files are recognised by the keys of their records;
/// CSV and Parquet files by their extension (or Parquet's magic bytes), their columns mapped by a
/// [`ColumnMapping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// `{instruction, input, output}` (optional `system`, `history: [[user, assistant], ...]`),
    /// a JSON array or JSONL.
    Alpaca,
    /// `{conversations: [{from: human|gpt|system, value}]}`, a JSON array or JSONL.
    ShareGpt,
    /// OpenAI chat: `{messages: [{role: system|user|assistant, content}]}`, JSONL or an array.
    Messages,
    /// A CSV file with a header row; columns chosen by a [`ColumnMapping`].
    Csv,
    /// A Parquet file; columns chosen by a [`ColumnMapping`].
    Parquet,
}

impl DataFormat {
    /// Every format, in the order they are listed to users.
    pub const ALL: [DataFormat; 5] = [DataFormat::Alpaca, DataFormat::ShareGpt, DataFormat::Messages, DataFormat::Csv, DataFormat::Parquet];

    /// The lowercase name used on the command line and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::Alpaca => "alpaca",
            DataFormat::ShareGpt => "sharegpt",
            DataFormat::Messages => "messages",
            DataFormat::Csv => "csv",
            DataFormat::Parquet => "parquet",
        }
    }
}

impl std::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DataFormat {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "openai" | "chat" => "messages",
            "share_gpt" | "share-gpt" | "vicuna" => "sharegpt",
            "pq" => "parquet",
            other => other,
        };
        Self::ALL.into_iter().find(|f| f.name() == alias).ok_or_else(|| {
            DataError::BadOption(format!("unknown data format '{s}'; choose one of: {}", Self::ALL.map(|f| f.name()).join(", ")))
        })
    }
}

/// Which columns (or JSON keys) of a flat record hold the prompt and the response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnMapping {
    /// The instruction (prompt) column.
    pub instruction: String,
    /// An optional input (context) column, shown after the instruction.
    pub input: Option<String>,
    /// The output (response) column.
    pub output: String,
    /// An optional system-prompt column.
    pub system: Option<String>,
}

impl Default for ColumnMapping {
    fn default() -> Self {
        Self { instruction: "instruction".into(), input: Some("input".into()), output: "output".into(), system: Some("system".into()) }
    }
}

impl ColumnMapping {
    /// Column names tried, in order, for the instruction when no mapping is given.
    pub const INSTRUCTION_NAMES: [&'static str; 5] = ["instruction", "prompt", "question", "query", "user"];
    /// Column names tried, in order, for the optional input.
    pub const INPUT_NAMES: [&'static str; 2] = ["input", "context"];
    /// Column names tried, in order, for the response.
    pub const OUTPUT_NAMES: [&'static str; 5] = ["output", "response", "completion", "answer", "assistant"];

    /// Parses `instruction=COL,input=COL,output=COL,system=COL` (`prompt` is accepted for
    /// `instruction` and `response` for `output`). Unnamed instruction / output columns default
    /// to `instruction` / `output`; input and system are used only when named.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut m = ColumnMapping { input: None, system: None, ..ColumnMapping::default() };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, col) = part.split_once('=').ok_or_else(|| {
                DataError::BadOption(format!("column mapping '{part}' is not ROLE=COLUMN (e.g. 'prompt=question,response=answer')"))
            })?;
            let col = col.trim().to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "instruction" | "prompt" => m.instruction = col,
                "input" | "context" => m.input = (!col.is_empty()).then_some(col),
                "output" | "response" | "completion" => m.output = col,
                "system" => m.system = (!col.is_empty()).then_some(col),
                other => {
                    return Err(DataError::BadOption(format!(
                        "column mapping: unknown role '{other}'; roles are instruction (or prompt), input, output (or response), system"
                    )))
                }
            }
        }
        if m.instruction.is_empty() || m.output.is_empty() {
            return Err(DataError::BadOption("column mapping: the instruction and output columns must be named".into()));
        }
        Ok(m)
    }

    /// The columns this mapping reads, each with its role.
    pub fn named_columns(&self) -> Vec<(&'static str, &str)> {
        let mut cols = vec![("instruction", self.instruction.as_str())];
        cols.extend(self.input.as_deref().map(|c| ("input", c)));
        cols.push(("output", self.output.as_str()));
        cols.extend(self.system.as_deref().map(|c| ("system", c)));
        cols
    }

    /// Picks a mapping from the column names present: the first known name for each role.
    /// Returns `None` when no instruction or no response column is recognised.
    pub fn guess(columns: &[String]) -> Option<Self> {
        let find = |names: &[&str]| names.iter().find(|n| columns.iter().any(|c| c == *n)).map(|n| n.to_string());
        Some(Self {
            instruction: find(&Self::INSTRUCTION_NAMES)?,
            input: find(&Self::INPUT_NAMES),
            output: find(&Self::OUTPUT_NAMES)?,
            system: find(&["system"]),
        })
    }
}

/// How to read a data file. `Default` detects the format by shape and uses the usual limits.
#[derive(Debug, Clone)]
pub struct LoadDataOptions {
    /// The format; `None` detects it from the extension and the records' keys.
    pub format: Option<DataFormat>,
    /// Column mapping for CSV, Parquet and flat JSON records; `None` guesses from the names.
    pub columns: Option<ColumnMapping>,
    /// Skip malformed records (counted and listed in the report) instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// Drop exact duplicates (same system prompt and turns), keeping the first.
    pub drop_duplicates: bool,
    /// Refuse files larger than this.
    pub max_file_bytes: u64,
    /// Refuse JSONL / CSV lines (records) longer than this.
    pub max_line_bytes: u64,
}

impl LoadDataOptions {
    /// Default file size bound: 4 GiB.
    pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 30;
    /// Default record size bound: 64 MiB.
    pub const DEFAULT_MAX_LINE_BYTES: u64 = 64 << 20;
}

impl Default for LoadDataOptions {
    fn default() -> Self {
        Self {
            format: None,
            columns: None,
            skip_bad_rows: false,
            drop_duplicates: false,
            max_file_bytes: Self::DEFAULT_MAX_FILE_BYTES,
            max_line_bytes: Self::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// A loaded data file: where it came from, its format and hash, the examples and the report.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The file read.
    pub path: PathBuf,
    /// The format it was read as.
    pub format: DataFormat,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The examples kept, in file order. Downstream indices (embeddings rows, clusters, row
    /// selections) refer to positions in this list; [`Example::row`] is the record's place in
    /// the file.
    pub examples: Vec<Example>,
    /// Counts and problems found while reading.
    pub report: ValidationReport,
}

impl Dataset {
    /// What `data/manifest.json` records about the data: source path, format, hash, counts and
    /// the validation report.
    pub fn manifest_json(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "examples": self.examples.len(),
            "report": self.report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_and_aliases_parse() {
        for f in DataFormat::ALL {
            assert_eq!(f.name().parse::<DataFormat>().unwrap(), f);
        }
        assert_eq!("OpenAI".parse::<DataFormat>().unwrap(), DataFormat::Messages);
        let e = "yaml".parse::<DataFormat>().unwrap_err().to_string();
        assert!(e.contains("'yaml'") && e.contains("alpaca, sharegpt, messages, csv, parquet"), "{e}");
    }

    #[test]
    fn column_mapping_parses_roles_and_rejects_unknown_ones() {
        let m = ColumnMapping::parse("prompt=q, response=a, input=ctx").unwrap();
        assert_eq!((m.instruction.as_str(), m.output.as_str(), m.input.as_deref(), m.system.as_deref()), ("q", "a", Some("ctx"), None));
        assert_eq!(ColumnMapping::parse("output=answer").unwrap().instruction, "instruction");
        assert!(ColumnMapping::parse("label=x").unwrap_err().to_string().contains("unknown role 'label'"));
        assert!(ColumnMapping::parse("prompt").unwrap_err().to_string().contains("ROLE=COLUMN"));
        let guessed = ColumnMapping::guess(&["question".into(), "answer".into(), "context".into()]).unwrap();
        assert_eq!(
            (guessed.instruction.as_str(), guessed.output.as_str(), guessed.input.as_deref()),
            ("question", "answer", Some("context"))
        );
    }
}
