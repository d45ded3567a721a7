//! The in-memory form of a benchmark: items with their prompts, choices and gold answers, the
//! pool few-shot examples are drawn from, and the rows the loader skipped.

use std::path::PathBuf;

/// How a benchmark is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Log-likelihood of each choice; `acc` and `acc_norm`.
    MultipleChoice,
    /// TruthfulQA MC2: normalised probability mass of the true choices (the first `gold`).
    MultipleChoiceMc2,
    /// Greedy generation, last number compared with the `#### N` answer.
    Gsm8k,
    /// Greedy generation through the chat template, verifiable-instruction checkers.
    IfEval,
    /// Loss and perplexity of held-out instruction data's responses.
    HeldoutLoss,
}

/// A multiple-choice item.
#[derive(Debug, Clone, PartialEq)]
pub struct McItem {
    /// Identifier from the file (or `line-N`).
    pub id: String,
    /// 1-based line in the file.
    pub line: usize,
    /// The question part of the prompt, e.g. `"Question: ...\nAnswer:"` (without few-shot examples
    /// or the task description).
    pub query: String,
    /// The choice texts, e.g. `"cellular telephone"` or `"A"`; the scored continuation is
    /// `delimiter + choice`, and `acc_norm` divides by the choice's length in characters.
    pub choices: Vec<String>,
    /// lm-eval's target delimiter put between the prompt and a choice (`" "`).
    pub delimiter: String,
    /// Index of the correct choice; for [`TaskKind::MultipleChoiceMc2`] the number of true choices,
    /// which come first.
    pub gold: usize,
    /// Sub-task (e.g. the MMLU subject), for per-group accuracy.
    pub group: Option<String>,
}

impl McItem {
    /// The item written as a solved few-shot example: query, delimiter, gold choice.
    pub fn as_example(&self) -> String {
        format!(
            "{}{}{}",
            self.query,
            self.delimiter,
            self.choices.get(self.gold.min(self.choices.len().saturating_sub(1))).map(String::as_str).unwrap_or("")
        )
    }

    /// The continuations scored after the prompt (`delimiter + choice`).
    pub fn continuations(&self) -> Vec<String> {
        self.choices.iter().map(|c| format!("{}{c}", self.delimiter)).collect()
    }
}

/// A GSM8K-style item: a question and a worked answer ending in `#### N`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gsm8kItem {
    /// Identifier (`line-N` unless the file has an `id`).
    pub id: String,
    /// 1-based line in the file.
    pub line: usize,
    /// `"Question: {q}\nAnswer:"`.
    pub query: String,
    /// The full worked answer (used as the target of few-shot examples).
    pub target: String,
    /// The final number after `####`.
    pub gold: String,
}

/// One verifiable instruction of an IFEval prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// E.g. `"punctuation:no_comma"`.
    pub id: String,
    /// Its arguments (`kwargs`), with null / empty values removed as IFEval does.
    pub kwargs: serde_json::Map<String, serde_json::Value>,
}

/// An IFEval item.
#[derive(Debug, Clone, PartialEq)]
pub struct IfEvalItem {
    /// The `key` of the record.
    pub id: String,
    /// 1-based line in the file.
    pub line: usize,
    /// The user prompt (rendered through the model's chat template before generation).
    pub prompt: String,
    /// The instructions to check.
    pub instructions: Vec<Instruction>,
}

/// The items of a benchmark, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Items {
    /// Multiple choice (also MC2).
    Mc(Vec<McItem>),
    /// GSM8K.
    Gsm8k(Vec<Gsm8kItem>),
    /// IFEval.
    IfEval(Vec<IfEvalItem>),
    /// Instruction data (every example; the validation slice is chosen after tokenisation).
    Heldout(Vec<crate::engine::data::Example>),
}

impl Items {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            Items::Mc(v) => v.len(),
            Items::Gsm8k(v) => v.len(),
            Items::IfEval(v) => v.len(),
            Items::Heldout(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the first `n` items in file order.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Items::Mc(v) => v.truncate(n),
            Items::Gsm8k(v) => v.truncate(n),
            Items::IfEval(v) => v.truncate(n),
            Items::Heldout(v) => v.truncate(n),
        }
    }
}

/// How few-shot examples are chosen from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FewshotSampler {
    /// The first N examples of the pool in file order (lm-eval's `first_n`, used for MMLU).
    FirstN,
    /// N examples drawn with the seed, the item itself excluded.
    Seeded,
}

/// A row the loader could not use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedRow {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

impl std::fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

/// A loaded benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Benchmark {
    /// Name used for the result file (`<name>.json`).
    pub name: String,
    /// How it is scored.
    pub kind: TaskKind,
    /// The file (or folder) it came from.
    pub path: PathBuf,
    /// Name of the prompt format, e.g. `"arc"`, `"mmlu"`, recorded in the results.
    pub prompt_format: String,
    /// The items to evaluate, in file order.
    pub items: Items,
    /// Text placed before the few-shot examples; `{group}` is replaced by the item's group with
    /// underscores as spaces (MMLU's subject line).
    pub description: String,
    /// Items few-shot examples are drawn from (empty: the evaluated items themselves).
    pub fewshot_pool: Items,
    /// How examples are drawn.
    pub fewshot_sampler: FewshotSampler,
    /// Few-shot count when the user gives none (lm-eval's defaults).
    pub default_fewshot: usize,
    /// Rows the loader skipped, with file:line and reason.
    pub skipped: Vec<SkippedRow>,
}

impl Benchmark {
    /// The description for an item of `group`.
    pub fn description_for(&self, group: Option<&str>) -> String {
        self.description.replace("{group}", &group.unwrap_or("").replace('_', " "))
    }
}
