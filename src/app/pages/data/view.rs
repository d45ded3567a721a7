//! What the page shows of a checked data file, built on the worker from the data check's
//! outcome: one short row per example for the table, the lowercase text the search scans, the
//! example behind each issue, the source text of skipped records and the length histogram.

use super::lengths::LengthHistogram;
use crate::engine::data::{
    record_excerpts, run_data_check, DataCheckOutcome, DataCheckRequest, DataError, DataFormat, Example, ExcerptLimits, TokenizeReport,
    ValidationReport,
};
use crate::engine::job::{CancelToken, EventSink};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Characters of a cell kept for the table (the detail panel shows the whole text).
pub const PREVIEW_CHARS: usize = 200;

/// One example as the table shows it.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// 1-based line in the file (0 if unknown).
    pub line: usize,
    /// 0-based record index in the file.
    pub record: usize,
    /// Instruction, input and output on one line each, cut to [`PREVIEW_CHARS`].
    pub cells: [String; 3],
    /// Instruction, input and output in lowercase, for the search.
    pub search: String,
    /// Whether the validation report names this example.
    pub flagged: bool,
}

/// A checked data file, ready to draw.
pub struct DataView {
    /// The file.
    pub path: PathBuf,
    /// The format it was read as.
    pub format: DataFormat,
    /// SHA-256 of the file (the split names the data it was made from by it).
    pub sha256: String,
    /// Counts and problems.
    pub report: ValidationReport,
    /// The examples, in file order (the detail panel shows them whole).
    pub examples: Vec<Example>,
    /// One row per example, shared with the search worker.
    pub rows: Arc<Vec<Row>>,
    /// Bytes of search text in all rows (decides whether the search runs on a worker).
    pub search_bytes: usize,
    /// For each issue of `report.issues`, the example it names (`None`: the record was skipped).
    pub issue_example: Vec<Option<usize>>,
    /// The source text of skipped records, by line.
    pub excerpts: BTreeMap<usize, String>,
    /// Why the source text of skipped records could not be read.
    pub excerpt_error: Option<String>,
    /// Why token lengths could not be measured (the data itself was read).
    pub lengths_error: Option<String>,
    /// Tokens of each example before truncation, when lengths were measured.
    pub tokens: Option<Vec<usize>>,
    /// What tokenisation and truncation do, when lengths were measured (without `lengths`).
    pub tokenized: Option<TokenizeReport>,
    /// Examples per token length, with the cut.
    pub histogram: Option<LengthHistogram>,
}

/// `text` on one line (line breaks shown as "¶ ", a glyph the default font has) and at most `n` characters.
pub fn one_line(text: &str, n: usize) -> String {
    let mut out = String::with_capacity(text.len().min(n * 2));
    for (i, c) in text.chars().enumerate() {
        if i == n {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("¶ "),
            '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The instruction without the Alpaca input that the loader appended to it.
pub fn instruction_only(ex: &Example) -> String {
    let text = ex.instruction_text();
    let input = ex.input_text();
    if input.is_empty() {
        return text;
    }
    match text.strip_suffix(input) {
        Some("") => String::new(),
        Some(head) => head.strip_suffix("\n\n").unwrap_or(head).to_string(),
        None => text,
    }
}

impl Row {
    /// The row of `ex`.
    pub fn of(ex: &Example) -> Self {
        let (instruction, output) = (instruction_only(ex), ex.response_text());
        let input = ex.input_text();
        let search = format!("{instruction}\n{input}\n{output}").to_lowercase();
        Row {
            line: ex.line,
            record: ex.row,
            cells: [one_line(&instruction, PREVIEW_CHARS), one_line(input, PREVIEW_CHARS), one_line(&output, PREVIEW_CHARS)],
            search,
            flagged: false,
        }
    }
}

impl DataView {
    /// Reads, validates and (given a model) measures the file: the work of the page's worker.
    pub fn check(req: &DataCheckRequest, sink: &EventSink, cancel: &CancelToken) -> Result<Self, String> {
        let max_len = req.lengths.as_ref().map(|l| l.prompt.max_len);
        let (outcome, lengths_error) = match run_data_check(req, sink, cancel) {
            Ok(outcome) => (outcome, None),
            // The tokenizer failed, not the data: show the data without lengths, and why.
            Err(e @ (DataError::Model(_) | DataError::Prompt { .. } | DataError::BadOption(_))) if req.lengths.is_some() => {
                let without = DataCheckRequest { lengths: None, ..req.clone() };
                (run_data_check(&without, sink, cancel).map_err(|e| e.to_string())?, Some(e.to_string()))
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut view = Self::new(outcome, max_len);
        view.lengths_error = lengths_error;
        view.read_excerpts();
        Ok(view)
    }

    /// The view of an outcome; `max_len` is the cut the histogram marks.
    pub fn new(outcome: DataCheckOutcome, max_len: Option<usize>) -> Self {
        let DataCheckOutcome { mut dataset, mut tokenized } = outcome;
        // In file order: the reader's problems and the tokenizer's over-long ones interleaved.
        dataset.report.issues.sort_by_key(|i| i.row);
        let mut rows: Vec<Row> = dataset.examples.iter().map(Row::of).collect();
        // Examples are in file order, so an issue's record is found by binary search.
        let issue_example: Vec<Option<usize>> =
            dataset.report.issues.iter().map(|i| dataset.examples.binary_search_by_key(&i.row, |e| e.row).ok()).collect();
        for &i in issue_example.iter().flatten() {
            rows[i].flagged = true;
        }
        let tokens = tokenized.as_mut().map(|t| std::mem::take(&mut t.lengths)).filter(|l| l.len() == rows.len());
        let cut = max_len.or(tokenized.as_ref().map(|t| t.max_len));
        let histogram = tokens.as_ref().zip(cut).map(|(lengths, cut)| {
            let dropped = tokenized.as_ref().map_or(0, |t| t.dropped_no_response);
            LengthHistogram::new(lengths, cut, dropped)
        });
        Self {
            search_bytes: rows.iter().map(|r| r.search.len()).sum(),
            rows: Arc::new(rows),
            path: dataset.path,
            format: dataset.format,
            sha256: dataset.sha256,
            report: dataset.report,
            examples: dataset.examples,
            issue_example,
            excerpts: BTreeMap::new(),
            excerpt_error: None,
            lengths_error: None,
            tokens,
            tokenized,
            histogram,
        }
    }

    /// Reads the source text of the records the report names but no example holds (file I/O:
    /// call it on a worker).
    pub fn read_excerpts(&mut self) {
        let wanted: Vec<usize> =
            self.report.issues.iter().zip(&self.issue_example).filter(|(_, e)| e.is_none()).map(|(i, _)| i.line).collect();
        if wanted.is_empty() {
            return;
        }
        let starts: Vec<usize> = self.examples.iter().map(|e| e.line).chain(self.report.issues.iter().map(|i| i.line)).collect();
        match record_excerpts(&self.path, &starts, &wanted, ExcerptLimits::default()) {
            Ok(excerpts) => self.excerpts = excerpts,
            Err(e) => self.excerpt_error = Some(e.to_string()),
        }
    }

    /// The position in `examples` of the example read from file record `record`.
    pub fn example_of_record(&self, record: usize) -> Option<usize> {
        self.examples.binary_search_by_key(&record, |e| e.row).ok()
    }

    /// `n` made-up examples with issues and lengths, for measuring the page (no file behind).
    pub fn synthetic(n: usize) -> Self {
        use crate::engine::data::{ChatMessage, Dataset, Issue, IssueKind};
        let words = ["alpha", "river", "compute", "garden", "sum", "planet", "write", "poem", "list", "colour", "explain", "number"];
        let mut report = ValidationReport { records: n, ..Default::default() };
        let examples: Vec<Example> = (0..n)
            .map(|i| {
                let pick =
                    |k: usize, len: usize| (0..len).map(|j| words[(i * 7 + k * 13 + j * 5) % words.len()]).collect::<Vec<_>>().join(" ");
                let mut fields = BTreeMap::new();
                if i % 3 == 0 {
                    fields.insert(Example::INPUT_FIELD.to_string(), pick(2, 8));
                }
                let instruction = format!("{} {i}", pick(1, 6 + i % 10));
                let user = match fields.get(Example::INPUT_FIELD) {
                    Some(input) => format!("{instruction}\n\n{input}"),
                    None => instruction,
                };
                let turns = vec![ChatMessage::new("user", &user), ChatMessage::new("assistant", &pick(3, 20 + i % 90))];
                Example { row: i, line: i + 1, system: None, turns, fields }
            })
            .collect();
        for i in (0..n).step_by(97) {
            report.push(Issue {
                kind: IssueKind::Duplicate,
                row: i,
                line: i + 1,
                field: None,
                message: "duplicates row 0 exactly (kept)".into(),
            });
        }
        report.examples = n;
        let lengths: Vec<usize> = (0..n).map(|i| 40 + (i * 37) % 900).collect();
        let tokenized = TokenizeReport { examples_in: n, max_len: 512, lengths, ..Default::default() };
        let dataset =
            Dataset { path: PathBuf::from("synthetic.jsonl"), format: DataFormat::Alpaca, sha256: String::new(), examples, report };
        Self::new(DataCheckOutcome { dataset, tokenized: Some(tokenized) }, Some(512))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::data::{ChatMessage, Dataset, Issue, IssueKind};

    fn example(row: usize, instruction: &str, input: &str, output: &str) -> Example {
        let mut fields = BTreeMap::new();
        let user = if input.is_empty() {
            instruction.to_string()
        } else {
            fields.insert(Example::INPUT_FIELD.to_string(), input.to_string());
            format!("{instruction}\n\n{input}")
        };
        Example {
            row,
            line: row + 1,
            system: None,
            turns: vec![ChatMessage::new("user", &user), ChatMessage::new("assistant", output)],
            fields,
        }
    }

    #[test]
    fn rows_split_instruction_and_input_and_fit_one_line() {
        let ex = example(0, "Add\nthese", "1 2", "3");
        let row = Row::of(&ex);
        assert_eq!(row.cells, ["Add¶ these".to_string(), "1 2".into(), "3".into()]);
        assert_eq!(row.search, "add\nthese\n1 2\n3");
        assert_eq!(one_line(&"x".repeat(300), 5), "xxxxx…");
        assert_eq!(instruction_only(&example(0, "", "only input", "y")), "");
    }

    #[test]
    fn issues_point_at_their_examples_and_skipped_records_at_none() {
        let mut report = ValidationReport::default();
        let issue = |kind, row| Issue { kind, row, line: row + 1, field: None, message: String::new() };
        report.push(issue(IssueKind::Malformed, 1));
        report.push(issue(IssueKind::Duplicate, 2));
        let examples = vec![example(0, "a", "", "b"), example(2, "a", "", "b")];
        let dataset = Dataset { path: PathBuf::from("x"), format: DataFormat::Alpaca, sha256: String::new(), examples, report };
        let lengths = vec![10, 700];
        let tokenized = TokenizeReport { max_len: 512, lengths, ..Default::default() };
        let view = DataView::new(DataCheckOutcome { dataset, tokenized: Some(tokenized) }, Some(512));
        assert_eq!(view.issue_example, vec![None, Some(1)]);
        assert_eq!(view.rows.iter().map(|r| r.flagged).collect::<Vec<_>>(), vec![false, true]);
        assert_eq!(view.tokens.as_deref(), Some(&[10, 700][..]));
        assert!(view.tokenized.as_ref().unwrap().lengths.is_empty(), "the lengths moved into the view");
        assert_eq!(view.histogram.as_ref().map(|h| h.over), Some(1));
        assert_eq!(view.example_of_record(2), Some(1));
        assert_eq!(view.example_of_record(1), None);
    }
}
