//! The result file of one (model, benchmark): `DIR/<benchmark>.json` with `benchmark`, `model`,
//! `adapter`, `n`, `metrics`, `config` and per-item `items` (see DESIGN.md, "File contracts").

use super::error::{EvalError, Result};
use super::ifeval::InstructionOutcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One scored choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceResult {
    /// The choice text (without the target delimiter).
    pub text: String,
    /// Sum of the continuation's token log-probabilities.
    pub loglik: f64,
    /// Length of `text` in characters (the `acc_norm` divisor).
    pub chars: usize,
}

/// Per-item detail of a multiple-choice benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McItemResult {
    /// Item id.
    pub id: String,
    /// Index of the correct choice (TruthfulQA MC2: number of true choices, listed first).
    pub gold: usize,
    /// Argmax of the log-likelihoods.
    pub pred: usize,
    /// Argmax of log-likelihood per character.
    pub pred_norm: usize,
    /// The choices with their scores.
    pub choices: Vec<ChoiceResult>,
    /// Sub-task (MMLU subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// TruthfulQA MC2's probability mass of the true choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Tokens were cut from the left to fit the context window.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

/// Per-item detail of a generative benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenItemResult {
    /// Item id.
    pub id: String,
    /// The reference answer (GSM8K's number); absent for IFEval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold: Option<String>,
    /// The generated text.
    pub generated: String,
    /// GSM8K: strict match; IFEval: every instruction followed (strict).
    pub correct: bool,
    /// GSM8K: the strictly extracted answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pred_strict: Option<String>,
    /// GSM8K: the flexibly extracted answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pred_flexible: Option<String>,
    /// GSM8K: flexible match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_flexible: Option<bool>,
    /// IFEval: every instruction followed (loose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_loose: Option<bool>,
    /// IFEval: outcome per instruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Vec<InstructionOutcome>>,
    /// Tokens generated.
    #[serde(default)]
    pub generated_tokens: usize,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Per-example detail of held-out response loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossItemResult {
    /// `row-N`: the record's place in the data file (0-based).
    pub id: String,
    /// Mean negative log-likelihood per response token.
    pub loss: f64,
    /// Response tokens scored.
    pub tokens: usize,
}

/// One item's detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ItemResult {
    /// Multiple choice.
    Mc(McItemResult),
    /// Generative.
    Gen(GenItemResult),
    /// Held-out response loss.
    Loss(LossItemResult),
}

/// How the numbers were obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Few-shot examples per prompt.
    pub fewshot: usize,
    /// The `limit` setting (first N items in file order; per subject for MMLU).
    pub limit: Option<usize>,
    /// Few-shot sampling seed.
    pub seed: u64,
    /// The full prompt of the first item.
    pub prompt_example: String,
    /// Prompt format name.
    pub prompt_format: String,
    /// Scoring kind (`multiple_choice`, `multiple_choice_mc2`, `gsm8k`, `if_eval`).
    pub kind: String,
    /// SHA-256 of the model file (or of the folder's files).
    pub model_sha256: String,
    /// SHA-256 of the adapter folder's files.
    pub adapter_sha256: Option<String>,
    /// The benchmark file or folder.
    pub data_path: String,
    /// SHA-256 of the benchmark file (or folder).
    pub data_sha256: String,
    /// Sequences per forward pass.
    pub batch: usize,
    /// Context window used (tokens).
    pub max_length: usize,
    /// Items with at least one request cut from the left to fit the window.
    pub truncated_items: usize,
    /// Choices whose continuation alone did not fit (only its last tokens were scored).
    pub continuations_cut: usize,
    /// Rows of the file skipped as malformed or without a gold answer.
    pub skipped_rows: usize,
    /// The first skipped rows as `file:line: reason`.
    pub skipped_examples: Vec<String>,
    /// Generative tasks: token budget per answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<usize>,
    /// Generative tasks: stop strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Working dtype.
    pub dtype: String,
    /// Device.
    pub device: String,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// DTM Studio version.
    pub dtm_studio_version: String,
}

/// A result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkResult {
    /// Benchmark name.
    pub benchmark: String,
    /// The model as given.
    pub model: String,
    /// The adapter folder, if any.
    pub adapter: Option<String>,
    /// Items scored.
    pub n: usize,
    /// Aggregate metrics (`acc`, `acc_stderr`, ...; per-subject `acc/<subject>`).
    pub metrics: BTreeMap<String, f64>,
    /// How they were obtained.
    pub config: RunConfig,
    /// Per-item detail.
    pub items: Vec<ItemResult>,
}

impl BenchmarkResult {
    /// Writes `dir/<benchmark>.json` atomically (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(format!("{}.json", self.benchmark));
        let text = serde_json::to_string_pretty(self).map_err(|e| EvalError::BadResults { path: path.clone(), detail: e.to_string() })?;
        crate::engine::fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| EvalError::io(&path, e))?;
        Ok(path)
    }

    /// Reads a result file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| EvalError::BadResults {
            path: path.to_path_buf(),
            detail: format!("not a DTM Studio result file (line {}): {e}", e.line()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mc_and_generative_items_round_trip() {
        let items = vec![
            ItemResult::Mc(McItemResult {
                id: "a".into(),
                gold: 1,
                pred: 1,
                pred_norm: 0,
                choices: vec![ChoiceResult { text: "x".into(), loglik: -1.5, chars: 1 }],
                group: None,
                score: None,
                truncated: false,
            }),
            ItemResult::Gen(GenItemResult {
                id: "b".into(),
                gold: Some("6".into()),
                generated: "6".into(),
                correct: true,
                pred_strict: None,
                pred_flexible: Some("6".into()),
                correct_flexible: Some(true),
                correct_loose: None,
                instructions: None,
                generated_tokens: 2,
            }),
        ];
        let text = serde_json::to_string(&items).unwrap();
        assert!(!text.contains("truncated") && !text.contains("group"));
        let back: Vec<ItemResult> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, items);
    }
}
