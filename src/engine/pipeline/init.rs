//! A new project: a commented `dtm.toml` with the paper's defaults, written through the same
//! code by `dtm-studio init` and the app's new-project form.

use super::error::PipelineError;
use super::project::{Project, PROJECT_FILE};
use std::path::{Path, PathBuf};

/// What a new project starts from.
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// The project folder (created if missing).
    pub dir: PathBuf,
    /// The base model: folder, `.gguf` file or cached HF id.
    pub model: String,
    /// The instruction data file.
    pub data: PathBuf,
    /// Benchmarks as (name, path).
    pub benchmarks: Vec<(String, PathBuf)>,
    /// Number of portions.
    pub k: usize,
    /// Training preset: paper or quick.
    pub preset: String,
}

/// `path` as the project file should name it: relative to the project folder when it is inside
/// it, else absolute.
fn written(dir: &Path, path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let base = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.strip_prefix(&base).map(Path::to_path_buf).unwrap_or(abs).to_string_lossy().into_owned()
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The text of a new `dtm.toml`.
pub fn project_text(req: &InitRequest) -> String {
    let model = if Path::new(&req.model).exists() { written(&req.dir, Path::new(&req.model)) } else { req.model.clone() };
    let mut t = format!(
        r#"# DTM Studio project: Disperse-Then-Merge (Fu et al., ACL 2024) on one dataset and one base model.
# Paths are relative to this file. `dtm-studio run .` runs every stage that is not done yet;
# `dtm-studio status .` shows where each stage stands. Change a setting and run again: only the
# stages that depend on it run again.

[data]
path = {data}
format = "auto"          # auto, alpaca, sharegpt, messages, csv or parquet
template = "alpaca"      # alpaca (the paper's prompts) or chat (the model's chat template)
val_fraction = 0.05      # rows of each run held out for the validation loss
val_max = 200
# columns = {{ prompt = "question", response = "answer" }}   # for CSV, Parquet or flat JSON

[model]
path = {model}
dtype = "auto"           # auto (f32 on the CPU, bf16 on GPUs), f32, bf16 or f16

[disperse]
encoder = "builtin"      # builtin (no weights), minilm, or a sentence-transformers folder
field = "instruction"    # instruction, response or both
method = "kmeans"        # kmeans, balanced, random (the paper found it as good) or field
{k_setting:<25}# portions = sub-models; the paper's best was 4
seed = 0

[train]
{preset_setting:<25}# paper: r16, lr 3e-4, effective batch 16, 1024 tokens; quick: a short CPU run
vanilla = true           # also train on all the data: the baseline DTM is compared with
# max_steps = 100        # any preset value can be overridden: lora_r, lora_alpha, lora_dropout,
#                        # targets, lr, schedule, warmup, epochs, batch, grad_accum, max_len, seed,
#                        # eval_every, save_every
# checkpointing = "auto" # gradient checkpointing: auto (when the memory plan needs it), on, off

[[merge]]
name = "average"
method = "linear"        # the paper's plain average of the sub-models' deltas
# weights = [0.25, 0.25, 0.25, 0.25]
output = "adapter"       # adapter (PEFT) or full (an HF model folder)

[device]
device = "auto"          # auto, cpu, cuda[:N] or metal[:N]
# devices = ["cuda:0", "cuda:1"]   # several: independent stages run in parallel, one per device
"#,
        data = quoted(&written(&req.dir, &req.data)),
        model = quoted(&model),
        k_setting = format!("k = {}", req.k),
        preset_setting = format!("preset = {}", quoted(&req.preset)),
    );
    for (name, path) in &req.benchmarks {
        t.push_str(&format!(
            "\n[[eval]]\nname = {}\npath = {}\n# limit = 100            # first N items only\n",
            quoted(name),
            quoted(&written(&req.dir, path))
        ));
    }
    t
}

/// Writes `dir/dtm.toml` (never over an existing one) and checks it as `run` will.
pub fn init_project(req: &InitRequest) -> Result<Project, PipelineError> {
    std::fs::create_dir_all(&req.dir).map_err(|e| PipelineError::io(&req.dir, e))?;
    let file = req.dir.join(PROJECT_FILE);
    if file.exists() {
        return Err(PipelineError::Stage(format!("{} already exists; edit it, or choose another folder", file.display())));
    }
    crate::engine::fsutil::write_atomic(&file, project_text(req).as_bytes()).map_err(|e| PipelineError::io(&file, e))?;
    Project::load(&file)
}
