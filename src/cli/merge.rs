//! `dtm-studio merge`: merge LoRA sub-models into one adapter or a full model folder.

use super::progress::with_progress;
use crate::engine::device::WorkDType;
use crate::engine::merge::full::FullOptions;
use crate::engine::merge::spec::{parse_weights, ModuleOverride};
use crate::engine::merge::writer::DEFAULT_MAX_SHARD_BYTES;
use crate::engine::merge::{run_merge, MergeMethod, MergeOutput, MergeRequest, MergeSpec};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Base model the adapters were trained on: HF folder, .gguf file or cached HF id.
    #[arg(long)]
    pub base: String,
    /// Adapter folders (PEFT layout), in the order weights refer to.
    #[arg(long, num_args = 1.., required = true)]
    pub adapters: Vec<PathBuf>,
    /// linear, lora-param-average, task-arithmetic, ties, dare-linear, dare-ties, fisher or slerp.
    #[arg(long, default_value = "linear")]
    pub method: MergeMethod,
    /// One weight per adapter, comma-separated (default 1/K each); `1:0` is a gradient from the
    /// first layer to the last.
    #[arg(long, allow_hyphen_values = true)]
    pub weights: Option<String>,
    /// Per-module weights, `REGEX=w1,w2,...` on module names (repeatable; first match wins).
    #[arg(long = "module-weights", allow_hyphen_values = true)]
    pub module_weights: Vec<String>,
    /// Divide by the sum of weights (default: mergekit's per method: on for linear and ties).
    #[arg(long)]
    pub normalize: Option<bool>,
    /// Fraction of delta entries kept by ties / dare (one value or one per adapter; default 0.5).
    #[arg(long, allow_hyphen_values = true)]
    pub density: Option<String>,
    /// Scale of the merged delta (task-arithmetic, ties, dare).
    #[arg(long = "lambda", default_value_t = 1.0, allow_hyphen_values = true)]
    pub lambda: f64,
    /// Seed of DARE's drop masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Rank of the merged adapter: truncated SVD (default: exact where possible, else the sum
    /// of the input ranks).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Write the full merged model (HF folder) instead of a merged adapter.
    #[arg(long)]
    pub full: bool,
    /// Output dtype of a full model: f32, bf16 or f16 (default: the base's; f32 for GGUF).
    #[arg(long)]
    pub dtype: Option<WorkDType>,
    /// Shard a full model past this many bytes (e.g. 5GB, 500MB).
    #[arg(long, default_value = "5GB")]
    pub max_shard_size: String,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `5GB`, `500MB`, `1.5GiB` or a plain byte count.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().with_context(|| format!("size '{text}' does not start with a number"))?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        u => anyhow::bail!("unknown size unit '{u}' in '{text}': use B, KB, MB, GB, KiB, MiB or GiB"),
    };
    Ok((n * mult) as u64)
}

/// Builds the engine request from the arguments.
pub fn request(args: &MergeArgs) -> anyhow::Result<MergeRequest> {
    let mut spec = MergeSpec::new(args.method);
    spec.weights = args.weights.as_deref().map(parse_weights).transpose()?;
    spec.overrides = args.module_weights.iter().map(|o| ModuleOverride::parse(o)).collect::<Result<_, _>>()?;
    spec.normalize = args.normalize;
    spec.density = args
        .density
        .as_deref()
        .map(|d| d.split(',').map(|x| x.trim().parse::<f64>().with_context(|| format!("--density '{x}' is not a number"))).collect())
        .transpose()?;
    spec.lambda = args.lambda;
    spec.seed = args.seed;
    spec.adapter_rank = args.rank;
    let max_shard_bytes = if args.max_shard_size.is_empty() { DEFAULT_MAX_SHARD_BYTES } else { parse_size(&args.max_shard_size)? };
    Ok(MergeRequest {
        base: args.base.clone(),
        adapters: args.adapters.clone(),
        spec,
        output: if args.full { MergeOutput::Full } else { MergeOutput::Adapter },
        out: args.out.clone(),
        full: FullOptions { dtype: args.dtype.map(|d| dtype_to_st(d.0)), max_shard_bytes },
        overwrite: args.overwrite,
    })
}

fn dtype_to_st(d: candle_core::DType) -> safetensors::Dtype {
    match d {
        candle_core::DType::BF16 => safetensors::Dtype::BF16,
        candle_core::DType::F16 => safetensors::Dtype::F16,
        _ => safetensors::Dtype::F32,
    }
}

/// Runs the merge and prints a one-line JSON summary (details are in `merge_report.json`).
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let req = request(&args)?;
    let outcome =
        with_progress(|sink, cancel| run_merge(&req, sink, cancel)).with_context(|| format!("merging into {}", args.out.display()))?;
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    let mut summary = serde_json::json!({
        "out": outcome.out,
        "method": outcome.method,
        "output": outcome.output,
        "modules": outcome.modules,
        "seconds": outcome.seconds,
    });
    if let Some(f) = &outcome.full {
        summary["bytes_written"] = f.bytes_written.into();
        summary["shards"] = f.shards.into();
        summary["dtype"] = f.dtype.clone().into();
    }
    if let Some(a) = &outcome.adapter {
        summary["exact"] = a.modules.iter().all(|m| m.exact).into();
        summary["max_rel_error"] = a.max_rel_error.into();
        summary["mean_rel_error"] = a.mean_rel_error.into();
        let mut worst: Vec<_> = a.modules.iter().filter(|m| !m.exact).collect();
        worst.sort_by(|x, y| y.rel_error.total_cmp(&x.rel_error));
        for m in worst.iter().take(5) {
            eprintln!("  {:<45} rank {:>4}  relative error {:.4}", m.module, m.rank, m.rel_error);
        }
    }
    println!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("5GB").unwrap(), 5_000_000_000);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("1234").unwrap(), 1234);
        assert!(parse_size("5 parsecs").is_err());
    }
}

/// Arguments of `bench merge`.
#[derive(Debug, Args)]
pub struct MergeBenchArgs {
    /// Base model (default: the HF SmolLM2-135M folder `smollm2-hf` in the models folders).
    #[arg(long)]
    pub base: Option<String>,
    /// Adapter folders (default: K random r16 adapters on gate/up/down made in a temporary folder).
    #[arg(long, num_args = 1..)]
    pub adapters: Vec<PathBuf>,
    /// Number of random adapters when none are given.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Method.
    #[arg(long, default_value = "linear")]
    pub method: MergeMethod,
    /// Timed repetitions of the in-memory re-weighting (median reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
}

/// Runs `bench merge`: prints the full-merge figure and the re-weighting figure.
pub fn bench(args: MergeBenchArgs) -> anyhow::Result<()> {
    let base = match args.base {
        Some(b) => b,
        None => crate::engine::known_models::model_dirs()
            .into_iter()
            .map(|d| d.join("smollm2-hf"))
            .find(|p| p.join("config.json").is_file())
            .map(|p| p.to_string_lossy().into_owned())
            .context("no --base given and no smollm2-hf folder in the models folders (../shared/bench-anchors/setup.sh makes one)")?,
    };
    let tmp = tempfile_dir()?;
    let adapters = if args.adapters.is_empty() {
        crate::engine::merge::bench::make_bench_adapters(&base, &tmp.join("adapters"), args.k)?
    } else {
        args.adapters.clone()
    };
    let result = crate::engine::merge::bench::bench_merge(&base, &adapters, args.method, &tmp.join("merged"), args.reps);
    let _ = std::fs::remove_dir_all(&tmp);
    for fig in result? {
        println!("{}", serde_json::to_string(&fig)?);
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("dtm-bench-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
