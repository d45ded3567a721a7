//! Tokenising rendered examples with response-only labels: prompt tokens get
//! [`IGNORE_INDEX`], response tokens (and the EOS after each response) their own id; truncation
//! to the maximum length is counted, and examples left without a response token are dropped.

use super::error::{DataError, Result, RowRef};
use super::example::{Dataset, Example};
use super::prompt::{render_segments, PromptOptions, PromptTemplate};
use super::validate::{Issue, IssueKind, LengthStats};
use crate::engine::job::CancelToken;
use crate::engine::model::{resolve_model, ModelConfig, ModelError, ModelSource, TextTokenizer};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Label of positions that carry no loss, as in `transformers`.
pub const IGNORE_INDEX: i64 = -100;

/// One tokenised example: token ids and one label per token ([`IGNORE_INDEX`] where masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedExample {
    /// Token ids.
    pub input_ids: Vec<u32>,
    /// Labels, as long as `input_ids`: the id on response tokens, -100 elsewhere.
    pub labels: Vec<i64>,
}

impl TokenizedExample {
    /// Tokens that carry a loss.
    pub fn trained_tokens(&self) -> usize {
        self.labels.iter().filter(|&&l| l != IGNORE_INDEX).count()
    }
}

/// What tokenising a dataset did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenizeReport {
    /// Examples given.
    pub examples_in: usize,
    /// Examples returned.
    pub examples_out: usize,
    /// Examples cut to the maximum length (whether kept or dropped).
    pub truncated: usize,
    /// Examples dropped because truncation left no response token.
    pub dropped_no_response: usize,
    /// The maximum length applied.
    pub max_len: usize,
    /// Longest example before truncation, in tokens.
    pub longest_tokens: usize,
    /// Tokens returned, all positions.
    pub total_tokens: usize,
    /// Tokens returned that carry a loss.
    pub trained_tokens: usize,
    /// For each returned example, its index in `Dataset::examples`.
    pub source_index: Vec<usize>,
    /// Length in tokens of every example given, before truncation, in `Dataset::examples` order
    /// (the Data page's histogram). One number per example, so it stays out of manifests.
    #[serde(skip)]
    pub lengths: Vec<usize>,
}

impl TokenizeReport {
    /// A one-line summary for logs.
    pub fn summary(&self) -> String {
        format!(
            "{} examples tokenised ({} in), {} truncated to {} tokens, {} dropped (no response left), {} tokens ({} trained), longest {}",
            self.examples_out,
            self.examples_in,
            self.truncated,
            self.max_len,
            self.dropped_no_response,
            self.total_tokens,
            self.trained_tokens,
            self.longest_tokens
        )
    }
}

/// Special tokens the tokenizer's post-processor puts before a text (e.g. Llama's `<s>`), which
/// `transformers` adds when a plain prompt is tokenised; empty for SmolLM2 and GPT-2 style BPE.
pub fn special_prefix(tok: &TextTokenizer) -> Result<Vec<u32>> {
    let with = tok.encode("a", true)?;
    let without = tok.encode("a", false)?;
    let at = (0..=with.len().saturating_sub(without.len())).find(|&p| with[p..].starts_with(&without)).unwrap_or(0);
    Ok(with[..at].to_vec())
}

/// The token that ends every response: the EOS token, else the first stop token.
pub fn eos_id(tok: &TextTokenizer) -> Result<u32> {
    tok.eos_token().and_then(|t| tok.inner().token_to_id(t)).or_else(|| tok.stop_ids().first().copied()).ok_or_else(|| {
        DataError::BadOption("the tokenizer has no end-of-sequence token, so the model could not learn where a response ends".into())
    })
}

/// Renders and tokenises one example without truncation. Alpaca: the post-processor's prefix
/// (BOS) first, each segment encoded on its own, EOS after every response. Chat template: the
/// template's text as is (it writes BOS / end-of-turn tokens itself), EOS appended only after a
/// response that holds no stop token.
pub fn tokenize_example(ex: &Example, tok: &TextTokenizer, opts: &PromptOptions, prefix: &[u32], eos: u32) -> Result<TokenizedExample> {
    let at = RowRef { row: ex.row, line: ex.line };
    let segments = render_segments(ex, Some(tok), opts).map_err(|detail| DataError::Prompt { path: PathBuf::new(), at, detail })?;
    let mut out = TokenizedExample { input_ids: Vec::new(), labels: Vec::new() };
    if opts.template == PromptTemplate::Alpaca {
        out.input_ids.extend_from_slice(prefix);
        out.labels.extend(std::iter::repeat_n(IGNORE_INDEX, prefix.len()));
    }
    for seg in segments {
        let mut ids = tok.encode(&seg.text, false).map_err(|e| DataError::Prompt { path: PathBuf::new(), at, detail: e.to_string() })?;
        if seg.train {
            let ends = opts.template == PromptTemplate::Chat && ids.iter().any(|id| *id == eos || tok.stop_ids().contains(id));
            if !ends {
                ids.push(eos);
            }
            out.labels.extend(ids.iter().map(|&id| i64::from(id)));
        } else {
            out.labels.extend(std::iter::repeat_n(IGNORE_INDEX, ids.len()));
        }
        out.input_ids.extend(ids);
    }
    Ok(out)
}

/// Tokenises every example of `ds` (in parallel, order kept), truncating to `opts.max_len` and
/// dropping examples whose response is cut off entirely; both are counted in the report.
pub fn tokenize_dataset(ds: &Dataset, tok: &TextTokenizer, opts: &PromptOptions) -> Result<(Vec<TokenizedExample>, TokenizeReport)> {
    tokenize_dataset_until(ds, tok, opts, &CancelToken::new())
}

/// [`tokenize_dataset`] that stops with [`crate::engine::job::Cancelled`] soon after `cancel` is
/// cancelled (each example checks it; a large file tokenises for tens of seconds).
pub fn tokenize_dataset_until(
    ds: &Dataset,
    tok: &TextTokenizer,
    opts: &PromptOptions,
    cancel: &CancelToken,
) -> Result<(Vec<TokenizedExample>, TokenizeReport)> {
    if opts.max_len == 0 {
        return Err(DataError::BadOption("max_len must be at least 1 token".into()));
    }
    let prefix = special_prefix(tok)?;
    let eos = eos_id(tok)?;
    let full: Vec<TokenizedExample> = ds
        .examples
        .par_iter()
        .map(|ex| {
            cancel.check()?;
            tokenize_example(ex, tok, opts, &prefix, eos)
        })
        .collect::<Result<_>>()
        .map_err(|e| in_file(e, &ds.path))?;
    let lengths = full.iter().map(|t| t.input_ids.len()).collect();
    let mut report = TokenizeReport { examples_in: full.len(), max_len: opts.max_len, lengths, ..Default::default() };
    let mut out = Vec::with_capacity(full.len());
    for (i, mut t) in full.into_iter().enumerate() {
        report.longest_tokens = report.longest_tokens.max(t.input_ids.len());
        if t.input_ids.len() > opts.max_len {
            report.truncated += 1;
            t.input_ids.truncate(opts.max_len);
            t.labels.truncate(opts.max_len);
            if t.trained_tokens() == 0 {
                report.dropped_no_response += 1;
                continue;
            }
        }
        report.total_tokens += t.input_ids.len();
        report.trained_tokens += t.trained_tokens();
        report.source_index.push(i);
        out.push(t);
    }
    report.examples_out = out.len();
    Ok((out, report))
}

/// Completes `ds.report` with token lengths under `opts` (over-long examples become issues).
pub fn check_lengths(ds: &mut Dataset, tok: &TextTokenizer, opts: &PromptOptions) -> Result<LengthStats> {
    let prefix = special_prefix(tok)?;
    let eos = eos_id(tok)?;
    let lens: Vec<usize> = ds
        .examples
        .par_iter()
        .map(|ex| tokenize_example(ex, tok, opts, &prefix, eos).map(|t| t.input_ids.len()))
        .collect::<Result<_>>()
        .map_err(|e| in_file(e, &ds.path))?;
    Ok(record_lengths(ds, &lens, opts.max_len))
}

/// Completes `ds.report` with the token lengths `lens` (one per example, in order, e.g.
/// [`TokenizeReport::lengths`]): over-long examples become issues, the statistics are set.
pub fn record_lengths(ds: &mut Dataset, lens: &[usize], max_len: usize) -> LengthStats {
    for (ex, &n) in ds.examples.iter().zip(lens).filter(|(_, &n)| n > max_len) {
        let message = format!("is {n} tokens long, over the maximum of {max_len} (it will be truncated)");
        ds.report.push(Issue { kind: IssueKind::OverLong, row: ex.row, line: ex.line, field: None, message });
    }
    let mut sorted = lens.to_vec();
    sorted.sort_unstable();
    let stats = LengthStats {
        max_len_tokens: max_len,
        over_long: lens.iter().filter(|&&n| n > max_len).count(),
        min_tokens: sorted.first().copied().unwrap_or(0),
        median_tokens: sorted.get(sorted.len() / 2).copied().unwrap_or(0),
        longest_tokens: sorted.last().copied().unwrap_or(0),
        total_tokens: sorted.iter().sum(),
    };
    ds.report.lengths = Some(stats);
    stats
}

/// Names the data file in a prompt error.
fn in_file(e: DataError, file: &Path) -> DataError {
    match e {
        DataError::Prompt { at, detail, .. } => DataError::Prompt { path: file.to_path_buf(), at, detail },
        other => other,
    }
}

/// Loads only the tokenizer (and chat template) of a model folder, `.gguf` file or cached id,
/// without its weights.
pub fn load_tokenizer(model: &str) -> std::result::Result<TextTokenizer, ModelError> {
    match resolve_model(model)? {
        ModelSource::HfFolder(dir) => {
            let config = ModelConfig::from_hf_file(&dir.join("config.json"))?;
            TextTokenizer::from_hf_folder(&dir, &config.eos_token_ids)
        }
        ModelSource::Gguf(path) => {
            let file = crate::engine::model::gguf::GgufFile::open(&path)?;
            let config = file.config()?;
            TextTokenizer::from_gguf(file.content(), &path, &config.eos_token_ids)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::data::stage::{run_data_check, DataCheckRequest, LengthCheck};
    use crate::engine::data::{load_dataset, LoadDataOptions};
    use crate::engine::job::EventSink;

    fn tiny_llama() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-llama")
    }

    /// Three examples of clearly different lengths, the last far over a small maximum.
    fn write_data(dir: &Path) -> PathBuf {
        let long = "word ".repeat(60);
        let records = [
            serde_json::json!({"instruction": "Hi", "input": "", "output": "Hello"}),
            serde_json::json!({"instruction": "Name three colours", "input": "", "output": "Red, green and blue."}),
            serde_json::json!({"instruction": "Repeat", "input": "", "output": long}),
        ];
        let path = dir.join("d.jsonl");
        std::fs::write(&path, records.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
        path
    }

    #[test]
    fn report_has_one_untruncated_length_per_example_in_data_order() {
        let dir = tempfile::tempdir().unwrap();
        let ds = load_dataset(&write_data(dir.path()), &LoadDataOptions::default()).unwrap();
        let tok = crate::engine::model::TextTokenizer::from_hf_folder(&tiny_llama(), &[2]).unwrap();
        let opts = PromptOptions { max_len: 40, ..PromptOptions::default() };
        let (prefix, eos) = (special_prefix(&tok).unwrap(), eos_id(&tok).unwrap());
        let want: Vec<usize> =
            ds.examples.iter().map(|ex| tokenize_example(ex, &tok, &opts, &prefix, eos).unwrap().input_ids.len()).collect();
        let (out, report) = tokenize_dataset(&ds, &tok, &opts).unwrap();
        assert_eq!(report.lengths, want);
        assert!(want[0] < want[1] && want[1] < want[2], "{want:?}");
        // The returned examples are cut to the maximum; the lengths are not.
        assert!(report.lengths[2] > 40 && out.iter().all(|t| t.input_ids.len() <= 40), "{:?}", report.lengths);
        assert_eq!(report.truncated, report.lengths.iter().filter(|&&n| n > 40).count());
        assert_eq!(report.longest_tokens, *report.lengths.iter().max().unwrap());
        // One number per example: kept out of the serialized report.
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("lengths").is_none(), "{json}");
    }

    #[test]
    fn the_data_check_returns_the_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let req = DataCheckRequest {
            path: write_data(dir.path()),
            options: LoadDataOptions::default(),
            lengths: Some(LengthCheck {
                model: tiny_llama().display().to_string(),
                prompt: PromptOptions { max_len: 40, ..Default::default() },
            }),
        };
        let out = run_data_check(&req, &EventSink::discard(), &CancelToken::new()).unwrap();
        let report = out.tokenized.unwrap();
        assert_eq!(report.lengths.len(), out.dataset.examples.len());
        let stats = out.dataset.report.lengths.unwrap();
        assert_eq!(*report.lengths.iter().max().unwrap(), stats.longest_tokens);
        assert_eq!(report.lengths.iter().filter(|&&n| n > 40).count(), stats.over_long);
    }
}
