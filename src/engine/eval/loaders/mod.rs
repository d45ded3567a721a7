//! Benchmark loaders: `NAME:PATH` to a [`Benchmark`], one loader per file format. Every loader
//! reports malformed rows (and items without a gold answer) with file:line and skips them; a
//! file that is not in the expected format at all is an error naming that format.

pub mod gen_formats;
pub mod mc_formats;
pub mod mmlu;
pub mod source;
pub mod taskdef;
pub mod truthfulqa;

use super::error::{EvalError, Result};
use super::task::{Benchmark, FewshotSampler, Items, SkippedRow, TaskKind};
use mc_formats::ArcPrompt;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The benchmark names a `NAME:PATH` benchmark spec understands (a `.toml` PATH takes any NAME).
pub const KNOWN_BENCHMARKS: &[&str] = &[
    "arc",
    "arc_easy",
    "arc_challenge",
    "openbookqa",
    "mmlu",
    "truthfulqa_mc1",
    "truthfulqa_mc2",
    "piqa",
    "boolq",
    "hellaswag",
    "gsm8k",
    "ifeval",
    "mc",
    "heldout",
];

/// A `NAME:PATH` benchmark argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchSpec {
    /// The name (also the result file's name).
    pub name: String,
    /// The file or folder.
    pub path: PathBuf,
    /// A second file (PIQA's labels), given as `piqa:DATA,LABELS`.
    pub extra: Option<PathBuf>,
}

impl std::str::FromStr for BenchSpec {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        let (name, path) = s.split_once(':').ok_or_else(|| EvalError::UnknownBenchmark {
            name: s.into(),
            detail: format!(
                "write NAME:PATH, e.g. arc:data/arc_easy_dev.jsonl; names: {}, or any name with a .toml task definition",
                KNOWN_BENCHMARKS.join(", ")
            ),
        })?;
        let name = name.trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') {
            return Err(EvalError::UnknownBenchmark {
                name,
                detail: "the name may hold only letters, digits, '_', '-' and '.' (it names the result file)".into(),
            });
        }
        let (path, extra) = match path.split_once(',') {
            Some((a, b)) if name == "piqa" => (PathBuf::from(a), Some(PathBuf::from(b))),
            _ => (PathBuf::from(path), None),
        };
        let is_toml = path.extension().and_then(|e| e.to_str()) == Some("toml");
        if !is_toml && !KNOWN_BENCHMARKS.contains(&name.as_str()) {
            return Err(EvalError::UnknownBenchmark {
                name,
                detail: format!(
                    "known names: {}; for other data write a task definition (.toml) and pass NAME:FILE.toml",
                    KNOWN_BENCHMARKS.join(", ")
                ),
            });
        }
        Ok(Self { name, path, extra })
    }
}

/// Turns records into items with `parse`; rows it rejects are skipped with their line. When the
/// first record lacks every `signature` key, the file is in another format: an error naming
/// `expected`.
pub fn collect_items<T>(
    path: &Path,
    expected: &str,
    records: Vec<(usize, Value)>,
    mut skipped: Vec<SkippedRow>,
    signature: &[&str],
    mut parse: impl FnMut(usize, &Value) -> std::result::Result<T, String>,
) -> Result<(Vec<T>, Vec<SkippedRow>)> {
    if let Some((line, first)) = records.first() {
        let keys: Vec<String> = first.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        let is_object = first.is_object();
        if !is_object || (!signature.is_empty() && !signature.iter().any(|k| keys.iter().any(|x| x == k))) {
            let found = if is_object {
                format!("line {line} has the keys [{}]", keys.join(", "))
            } else {
                format!("line {line} is {}", source::kind_of(first))
            };
            return Err(EvalError::WrongFormat { path: path.to_path_buf(), expected: expected.into(), detail: found });
        }
    }
    let mut items = Vec::with_capacity(records.len());
    for (line, v) in &records {
        match parse(*line, v) {
            Ok(it) => items.push(it),
            Err(reason) => skipped.push(SkippedRow { path: path.to_path_buf(), line: *line, reason }),
        }
    }
    if items.is_empty() && !records.is_empty() {
        let first = skipped
            .iter()
            .find(|s| s.path == path)
            .map(|s| format!("no record could be used; line {}: {}", s.line, s.reason))
            .unwrap_or_default();
        return Err(EvalError::WrongFormat { path: path.to_path_buf(), expected: expected.into(), detail: first });
    }
    skipped.sort_by_key(|s| s.line);
    Ok((items, skipped))
}

fn mc(spec: &BenchSpec, format: &str, items: Vec<super::task::McItem>, skipped: Vec<SkippedRow>) -> Benchmark {
    Benchmark {
        name: spec.name.clone(),
        kind: TaskKind::MultipleChoice,
        path: spec.path.clone(),
        prompt_format: format.into(),
        items: Items::Mc(items),
        description: String::new(),
        fewshot_pool: Items::Mc(Vec::new()),
        fewshot_sampler: FewshotSampler::Seeded,
        default_fewshot: 0,
        skipped,
    }
}

/// Loads the benchmark a `NAME:PATH` argument names.
pub fn load_benchmark(spec: &BenchSpec) -> Result<Benchmark> {
    let path = &spec.path;
    if !path.exists() {
        return Err(EvalError::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder")));
    }
    if path.extension().and_then(|e| e.to_str()) == Some("toml") {
        let (def, items, pool, skipped) = taskdef::load_taskdef(path)?;
        let mut b = mc(spec, "taskdef", items, skipped);
        b.prompt_format = format!("taskdef:{}", def.prompt);
        b.description = def.description;
        b.fewshot_pool = Items::Mc(pool);
        b.default_fewshot = def.fewshot;
        return Ok(b);
    }
    let bench = match spec.name.as_str() {
        "arc" | "arc_easy" | "arc_challenge" => {
            let (items, skipped) = mc_formats::load_arc(path, ArcPrompt::Arc)?;
            mc(spec, "arc", items, skipped)
        }
        "openbookqa" => {
            let (items, skipped) = mc_formats::load_arc(path, ArcPrompt::OpenBookQa)?;
            mc(spec, "openbookqa", items, skipped)
        }
        "piqa" => {
            let (items, skipped) = mc_formats::load_piqa(path, spec.extra.as_deref())?;
            mc(spec, "piqa", items, skipped)
        }
        "boolq" => {
            let (items, skipped) = mc_formats::load_boolq(path)?;
            mc(spec, "boolq", items, skipped)
        }
        "hellaswag" => {
            let (items, skipped) = mc_formats::load_hellaswag(path)?;
            mc(spec, "hellaswag", items, skipped)
        }
        "mc" => {
            let (items, skipped) = mc_formats::load_generic(path)?;
            mc(spec, "generic-mc", items, skipped)
        }
        "mmlu" => {
            let (items, dev, skipped, split) = mmlu::load_mmlu(path)?;
            let mut b = mc(spec, &format!("mmlu ({split} split, few-shot from dev)"), items, skipped);
            b.description = "The following are multiple choice questions (with answers) about {group}.\n\n".into();
            b.fewshot_pool = Items::Mc(dev);
            b.fewshot_sampler = FewshotSampler::FirstN;
            b.default_fewshot = 5;
            b
        }
        "truthfulqa_mc1" | "truthfulqa_mc2" => {
            let variant = if spec.name.ends_with("mc1") { truthfulqa::Variant::Mc1 } else { truthfulqa::Variant::Mc2 };
            let (items, skipped) = truthfulqa::load_truthfulqa(path, variant)?;
            let mut b = mc(spec, &spec.name, items, skipped);
            if variant == truthfulqa::Variant::Mc2 {
                b.kind = TaskKind::MultipleChoiceMc2;
            }
            b
        }
        "gsm8k" => {
            let (items, skipped) = gen_formats::load_gsm8k(path)?;
            let mut b = mc(spec, "gsm8k", Vec::new(), skipped);
            b.kind = TaskKind::Gsm8k;
            b.items = Items::Gsm8k(items);
            b.fewshot_pool = Items::Gsm8k(Vec::new());
            b
        }
        "ifeval" => {
            let (items, skipped) = gen_formats::load_ifeval(path)?;
            let mut b = mc(spec, "ifeval (chat template)", Vec::new(), skipped);
            b.kind = TaskKind::IfEval;
            b.items = Items::IfEval(items);
            b.fewshot_pool = Items::IfEval(Vec::new());
            b
        }
        "heldout" => {
            let ds = crate::engine::data::load_dataset(path, &crate::engine::data::LoadDataOptions::default()).map_err(|e| {
                EvalError::WrongFormat {
                    path: path.clone(),
                    expected: "instruction data (Alpaca JSON, ShareGPT, OpenAI messages, CSV or Parquet) as `dtm-studio train` reads it"
                        .into(),
                    detail: e.to_string(),
                }
            })?;
            let mut b = mc(spec, "heldout (training prompt template, validation slice)", Vec::new(), Vec::new());
            b.kind = TaskKind::HeldoutLoss;
            b.items = Items::Heldout(ds.examples);
            b.fewshot_pool = Items::Heldout(Vec::new());
            b
        }
        other => {
            return Err(EvalError::UnknownBenchmark { name: other.into(), detail: format!("known names: {}", KNOWN_BENCHMARKS.join(", ")) })
        }
    };
    if bench.items.is_empty() {
        let first: Vec<String> = bench.skipped.iter().take(3).map(ToString::to_string).collect();
        return Err(EvalError::Empty {
            path: path.clone(),
            detail: if first.is_empty() {
                String::new()
            } else {
                format!(": all {} rows were skipped, e.g. {}", bench.skipped.len(), first.join("; "))
            },
        });
    }
    Ok(bench)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_unknown_names_are_refused_with_the_list() {
        let s: BenchSpec = "arc:data/a.jsonl".parse().unwrap();
        assert_eq!((s.name.as_str(), s.path.as_path()), ("arc", Path::new("data/a.jsonl")));
        let p: BenchSpec = "piqa:v.jsonl,v-labels.lst".parse().unwrap();
        assert_eq!(p.extra.as_deref(), Some(Path::new("v-labels.lst")));
        let t: BenchSpec = "mytask:t.toml".parse().unwrap();
        assert_eq!(t.name, "mytask");
        let e = "sciq:x.jsonl".parse::<BenchSpec>().unwrap_err().to_string();
        assert!(e.contains("known names") && e.contains("task definition"), "{e}");
        assert!("nocolon".parse::<BenchSpec>().is_err());
    }

    #[test]
    fn a_gsm8k_file_given_as_arc_names_the_expected_format() {
        let dir0 = tempfile::tempdir().unwrap();
        let g = dir0.path().join("g.jsonl");
        std::fs::write(&g, "{\"question\": \"1+1?\", \"answer\": \"2\\n#### 2\"}\n").unwrap();
        let err = load_benchmark(&BenchSpec { name: "arc".into(), path: g, extra: None }).unwrap_err().to_string();
        assert!(err.contains("ARC/OpenBookQA JSONL") && err.contains("line 1"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.jsonl");
        std::fs::write(&p, "{\"question\": \"1+1?\", \"answer\": \"2\\n#### 2\"}\n").unwrap();
        let err = load_benchmark(&BenchSpec { name: "hellaswag".into(), path: p.clone(), extra: None }).unwrap_err().to_string();
        assert!(err.contains("HellaSwag JSONL") && err.contains("keys [answer, question]"), "{err}");
    }
}
