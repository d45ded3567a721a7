//! `dtm-studio eval --model MODEL [--adapter DIR] --bench NAME:PATH... --out DIR`: scores a model
//! on benchmarks, writes `DIR/<benchmark>.json` and prints a table; and `dtm-studio bench eval`.

use super::progress::with_progress;
use super::RuntimeArgs;
use crate::engine::eval::bench::{arc_throughput, mc_scoring_throughput};
use crate::engine::eval::stage::{run_eval, EvalRequest};
use crate::engine::eval::{load_benchmark, BenchSpec, BenchmarkResult, EvalOptions};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `eval`.
#[derive(Debug, Args)]
#[command(after_help = "Benchmarks (NAME:PATH): arc / arc_easy / arc_challenge and openbookqa (ARC JSONL), mmlu (folder of \
<subject>_dev/_val/_test.csv), truthfulqa_mc1 / truthfulqa_mc2 (mc_task.json), piqa (DATA.jsonl[,LABELS.lst]), boolq, hellaswag, \
gsm8k, ifeval (JSONL), mc (JSONL {question, choices, answer}), heldout (instruction data: response loss and perplexity on the \
validation slice `dtm-studio train` sets aside with its defaults), or ANY_NAME:task.toml, a task definition with keys data, prompt \
(\"Question: {question}\\nAnswer:\"), choices, answer and optional target_delimiter, id, fewshot_split, fewshot, description.\n\
--limit N keeps the first N items in file order (per subject for MMLU).")]
pub struct EvalArgs {
    /// A folder with config.json, a .gguf file, or an HF model id in the local cache.
    #[arg(long)]
    pub model: String,
    /// A PEFT LoRA adapter folder to apply.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Benchmarks as NAME:PATH (repeatable).
    #[arg(long = "bench", required = true, num_args = 1..)]
    pub bench: Vec<String>,
    /// Few-shot examples per prompt (default: 5 for MMLU, 0 otherwise, as lm-eval).
    #[arg(long)]
    pub fewshot: Option<usize>,
    /// Evaluate only the first N items (per subject for MMLU).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Few-shot sampling seed.
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Context window in tokens (default: the model's); longer requests are cut from the left.
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Token budget of generated answers (default: 256 for GSM8K, 1280 for IFEval).
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    /// Folder for the result files (<benchmark>.json).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Arguments of `bench eval`.
#[derive(Debug, Args)]
pub struct EvalBenchArgs {
    /// Model to measure (default: SmolLM2-135M-Instruct from the local models folder).
    #[arg(long)]
    pub model: Option<String>,
    /// ARC JSONL file (default: $DTM_DATA_DIR/bench/arc_easy_dev.jsonl or ../shared/data/bench/arc_easy_dev.jsonl).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// ARC items to score.
    #[arg(long, default_value_t = 100)]
    pub items: usize,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Tokens per sequence of the synthetic scoring batch.
    #[arg(long, default_value_t = 256)]
    pub seq: usize,
    /// Timed repetitions of the synthetic batch (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

fn pct(x: f64) -> String {
    format!("{:6.2}", 100.0 * x)
}

/// The printed table of one result (per-subject lines for MMLU-style benchmarks).
pub fn result_table(r: &BenchmarkResult) -> String {
    let mut out = format!("{} ({} items, {}-shot, {:.1} s)\n", r.benchmark, r.n, r.config.fewshot, r.config.seconds);
    let groups: Vec<&String> = r.metrics.keys().filter_map(|k| k.strip_prefix("acc/").map(|_| k)).collect();
    if !groups.is_empty() {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for it in &r.items {
            if let crate::engine::eval::results::ItemResult::Mc(m) = it {
                *counts.entry(m.group.clone().unwrap_or_default()).or_default() += 1;
            }
        }
        out.push_str(&format!("  {:<40} {:>5} {:>8} {:>9}\n", "subject", "n", "acc %", "acc_norm %"));
        for k in groups {
            let g = &k[4..];
            let an = r.metrics.get(&format!("acc_norm/{g}")).copied().unwrap_or(0.0);
            out.push_str(&format!("  {:<40} {:>5} {:>8} {:>9}\n", g, counts.get(g).copied().unwrap_or(0), pct(r.metrics[k]), pct(an)));
        }
    }
    out.push_str(&format!("  {:<28} {:>8} {:>8}\n", "metric", "value %", "stderr"));
    for m in crate::engine::eval::comparison::headline_metrics(r) {
        let se = r.metrics.get(&format!("{m}_stderr")).copied().unwrap_or(0.0);
        out.push_str(&format!("  {:<28} {:>8} {:>8}\n", m, pct(r.metrics[&m]), pct(se)));
    }
    if r.config.truncated_items > 0 {
        out.push_str(&format!(
            "  {} items were cut to the {}-token window ({} answers cut)\n",
            r.config.truncated_items, r.config.max_length, r.config.continuations_cut
        ));
    }
    if r.config.skipped_rows > 0 {
        out.push_str(&format!(
            "  {} rows skipped, e.g. {}\n",
            r.config.skipped_rows,
            r.config.skipped_examples.first().map(String::as_str).unwrap_or("")
        ));
    }
    out
}

/// Evaluates through the engine's evaluation stage and prints a table per benchmark.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let req = EvalRequest {
        model: args.model.clone(),
        load: args.runtime.options(args.adapter.clone())?,
        benchmarks: args.bench.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
        options: EvalOptions {
            fewshot: args.fewshot,
            limit: args.limit,
            seed: args.seed,
            batch: args.batch.max(1),
            max_length: args.max_length,
            max_new_tokens: args.max_new_tokens,
            ..Default::default()
        },
        out_dir: args.out.clone(),
        model_sha256: None,
    };
    for out in with_progress(|sink, cancel| run_eval(&req, sink, cancel))? {
        print!("{}", result_table(&out.result));
        println!("  -> {}\n", out.path.display());
    }
    Ok(())
}

fn default_arc() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("DTM_DATA_DIR") {
        candidates.push(PathBuf::from(d).join("bench/arc_easy_dev.jsonl"));
    }
    candidates.push(Path::new("../shared/data/bench/arc_easy_dev.jsonl").to_path_buf());
    candidates.into_iter().find(|p| p.is_file())
}

/// `bench eval`: ARC items/s and multiple-choice scoring tokens/s, one JSON line each.
pub fn bench(args: EvalBenchArgs) -> anyhow::Result<()> {
    let model = match &args.model {
        Some(m) => m.clone(),
        None => crate::engine::known_models::smollm2_gguf()
            .map(|p| p.to_string_lossy().into_owned())
            .context("no --model given and SmolLM2 is not in the models folder: run scripts/fetch-test-models.sh or pass --model")?,
    };
    let loaded = args.runtime.load(&model, None)?;
    let fig = mc_scoring_throughput(&loaded, args.batch, args.seq, args.reps)?;
    println!("{}", serde_json::to_string(&fig)?);
    let data = args.data.clone().or_else(default_arc).context("no ARC file: pass --data PATH (ARC JSONL) or set DTM_DATA_DIR")?;
    let spec = BenchSpec { name: "arc_easy".into(), path: data, extra: None };
    let bench = load_benchmark(&spec)?;
    let fig = arc_throughput(&loaded, &bench, args.items, args.batch)?;
    println!("{}", serde_json::to_string(&fig)?);
    Ok(())
}
