//! The validation report: what was read, what was skipped and why, duplicates, and (given a
//! tokenizer) how many examples are longer than the maximum length.

use super::error::RowRef;
use super::example::Example;
use std::collections::HashMap;

/// What kind of problem an [`Issue`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// Not valid JSON / CSV, a wrong type, a bad role order: the row was skipped.
    Malformed,
    /// An empty or missing instruction or response: the row was skipped.
    Empty,
    /// Same system prompt and turns as an earlier row (kept unless duplicates are dropped).
    Duplicate,
    /// A dangling turn (a leading assistant turn or a trailing user turn) was removed.
    Trimmed,
    /// Longer than the maximum length in tokens (truncated when tokenised).
    OverLong,
}

/// One problem found in one record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// 0-based record index in the file.
    pub row: usize,
    /// 1-based line where the record starts (0 if unknown).
    pub line: usize,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", RowRef { row: self.row, line: self.line })?;
        if let Some(field) = &self.field {
            write!(f, "field '{field}' ")?;
        }
        f.write_str(&self.message)
    }
}

/// Token-length statistics of the tokenised examples (prompt and response together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LengthStats {
    /// The maximum length used for the over-long count.
    pub max_len_tokens: usize,
    /// Examples longer than `max_len_tokens`.
    pub over_long: usize,
    /// Shortest example in tokens.
    pub min_tokens: usize,
    /// Median length in tokens.
    pub median_tokens: usize,
    /// Longest example in tokens.
    pub longest_tokens: usize,
    /// Total tokens over all examples (before truncation).
    pub total_tokens: usize,
}

/// Counts and problems found while reading a data file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationReport {
    /// Records read from the file (rows, lines, array elements), good or bad.
    pub records: usize,
    /// Examples kept.
    pub examples: usize,
    /// Records skipped as malformed (only when bad rows are skipped; otherwise loading stops).
    pub malformed: usize,
    /// Records skipped for an empty or missing instruction or response.
    pub empty: usize,
    /// Records that duplicate an earlier one exactly (system prompt and all turns).
    pub duplicates: usize,
    /// How many of those duplicates were dropped.
    pub duplicates_dropped: usize,
    /// Dangling turns removed (leading assistant or trailing user turns).
    pub trimmed_turns: usize,
    /// Kept examples with more than one assistant turn.
    pub multi_turn: usize,
    /// Kept examples with a system prompt.
    pub with_system: usize,
    /// Token lengths, when the report was completed with a tokenizer.
    pub lengths: Option<LengthStats>,
    /// The first [`ValidationReport::MAX_ISSUES`] problems, in file order.
    pub issues: Vec<Issue>,
    /// All problems found, including those not kept in `issues`.
    pub issues_total: usize,
}

impl ValidationReport {
    /// How many issues are kept in [`ValidationReport::issues`].
    pub const MAX_ISSUES: usize = 1000;

    /// Records an issue and counts it under its kind.
    pub fn push(&mut self, issue: Issue) {
        match issue.kind {
            IssueKind::Malformed => self.malformed += 1,
            IssueKind::Empty => self.empty += 1,
            IssueKind::Duplicate => self.duplicates += 1,
            IssueKind::Trimmed => self.trimmed_turns += 1,
            IssueKind::OverLong => {}
        }
        self.issues_total += 1;
        if self.issues.len() < Self::MAX_ISSUES {
            self.issues.push(issue);
        }
    }

    /// Records that were skipped (malformed or empty).
    pub fn skipped(&self) -> usize {
        self.malformed + self.empty
    }

    /// A short human-readable summary, one fact per line.
    pub fn summary(&self) -> String {
        let mut s = format!("records read:      {}\nexamples kept:     {}\n", self.records, self.examples);
        s += &format!("skipped malformed: {}\nskipped empty:     {}\n", self.malformed, self.empty);
        s += &format!("duplicates:        {}", self.duplicates);
        if self.duplicates_dropped > 0 {
            s += &format!(" ({} dropped)", self.duplicates_dropped);
        }
        s += &format!(
            "\nmulti-turn:        {}\nwith system:       {}\ntrimmed turns:     {}\n",
            self.multi_turn, self.with_system, self.trimmed_turns
        );
        if let Some(l) = &self.lengths {
            s += &format!(
                "tokens:            min {} / median {} / max {} / total {}\nover max length:   {} (> {} tokens)\n",
                l.min_tokens, l.median_tokens, l.longest_tokens, l.total_tokens, l.over_long, l.max_len_tokens
            );
        }
        s
    }
}

/// What makes two examples the same: the system prompt and every (role, content) turn.
type DedupKey<'a> = (Option<&'a str>, Vec<(&'a str, &'a str)>);

/// Finds exact duplicates (same system prompt and same turns), records them in the report and,
/// when `drop` is set, removes all but the first occurrence.
pub fn mark_duplicates(examples: &mut Vec<Example>, report: &mut ValidationReport, drop: bool) {
    let mut first_row: HashMap<DedupKey<'_>, usize> = HashMap::new();
    let mut dup = vec![false; examples.len()];
    for (i, ex) in examples.iter().enumerate() {
        let key = (ex.system.as_deref(), ex.turns.iter().map(|t| (t.role.as_str(), t.content.as_str())).collect());
        if let Some(&first) = first_row.get(&key) {
            dup[i] = true;
            let verb = if drop { "dropped" } else { "kept" };
            report.push(Issue {
                kind: IssueKind::Duplicate,
                row: ex.row,
                line: ex.line,
                field: None,
                message: format!("duplicates row {first} exactly ({verb})"),
            });
        } else {
            first_row.insert(key, ex.row);
        }
    }
    if drop {
        let before = examples.len();
        let mut i = 0;
        examples.retain(|_| {
            i += 1;
            !dup[i - 1]
        });
        report.duplicates_dropped = before - examples.len();
    }
}

/// Fills the per-example counts (kept, multi-turn, with system) from the final list.
pub fn count_examples(examples: &[Example], report: &mut ValidationReport) {
    report.examples = examples.len();
    report.multi_turn = examples.iter().filter(|e| e.assistant_turns() > 1).count();
    report.with_system = examples.iter().filter(|e| e.system.is_some()).count();
}
