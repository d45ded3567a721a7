//! What each pipeline stage does: the engine stage it calls, with which request, and the key
//! figure it records. Every stage writes only into its own outputs in the run directory, each
//! written atomically by the engine stage.

use super::error::PipelineError;
use super::plan::FileHasher;
use super::plan::{paths, StageId};
use super::project::Project;
use super::records::FileHashCache;
use crate::engine::cluster::{run_cluster, ClusterRequest, ClustersFile, EmbeddingSource};
use crate::engine::data::prompt::PromptOptions;
use crate::engine::data::{run_data_check, DataCheckRequest, LengthCheck};
use crate::engine::device::{open_device, DeviceRequest};
use crate::engine::embed::{run_embed, EmbedOptions, EmbedRequest, EncoderRequest};
use crate::engine::eval::comparison::{headline_metrics, read_results_dir, ModelResults};
use crate::engine::eval::heldout::HeldoutOptions;
use crate::engine::eval::{run_eval, EvalOptions, EvalRequest};
use crate::engine::fsutil::write_atomic;
use crate::engine::job::{CancelToken, EventSink, StageError};
use crate::engine::merge::preview::{BenchSource, HeldoutSource, PreviewRequest, PreviewSizes};
use crate::engine::merge::{run_merge, MergeOutput, MergeRequest};
use crate::engine::model::LoadOptions;
use crate::engine::report::ReportInput;
use crate::engine::train::state::TrainerState;
use crate::engine::train::{run_sft, SftRequest};
use std::path::{Path, PathBuf};

/// An engine stage's error as a pipeline error: a cancellation stays one, a failure keeps its text.
fn stage_error<E: StageError>(e: E) -> PipelineError {
    match e.cancelled() {
        Some(c) => PipelineError::Cancelled(c.clone()),
        None => PipelineError::Stage(e.to_string()),
    }
}

/// The model and adapter a label stands for: base, vanilla / sub-N (adapters), or a merge.
pub fn model_source(project: &Project, label: &str) -> (String, Option<PathBuf>) {
    let dir = &project.dir;
    if label == "base" {
        return (project.model.clone(), None);
    }
    if label == "vanilla" || label.starts_with("sub-") {
        return (project.model.clone(), Some(paths::run(dir, label)));
    }
    match project.merges.iter().find(|m| m.name == label).map(|m| m.output) {
        Some(MergeOutput::Full) => (paths::merge(dir, label).to_string_lossy().into_owned(), None),
        _ => (project.model.clone(), Some(paths::merge(dir, label))),
    }
}

/// The merge preview of a project whose sub-models are trained: its base, `train/sub-N`, the
/// vanilla run when it exists, each portion's validation slice as its training chose it, and
/// the project's benchmarks (the first multiple-choice one is scored).
pub fn preview_request(project: &Project, sizes: PreviewSizes, device: candle_core::Device) -> PreviewRequest {
    let dir = &project.dir;
    let vanilla = paths::run(dir, "vanilla");
    let options = HeldoutOptions {
        prompt: PromptOptions { max_len: project.train.max_len, ..project.prompt.clone() },
        val_fraction: project.raw.data.val_fraction,
        val_max: project.raw.data.val_max,
        seed: project.train.seed,
    };
    PreviewRequest {
        base: project.model.clone(),
        adapters: (0..project.k()).map(|i| paths::run(dir, &format!("sub-{i}"))).collect(),
        vanilla: vanilla.join("adapter_model.safetensors").is_file().then_some(vanilla),
        heldout: HeldoutSource::Portions {
            data: project.data.clone(),
            data_options: project.data_options.clone(),
            clusters: paths::clusters(dir),
            options,
        },
        bench: project.evals.iter().map(|e| BenchSource { spec: e.spec.clone(), fewshot: e.fewshot }).collect(),
        sizes,
        device,
        dtype: project.dtype,
    }
}

/// Runs one stage on `device`; returns its key figure.
pub fn run_stage_of(
    project: &Project,
    id: &StageId,
    k: usize,
    device: DeviceRequest,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<Option<String>, PipelineError> {
    let dir = &project.dir;
    let device = || open_device(device).map_err(|e| PipelineError::Stage(e.to_string()));
    match id {
        StageId::Data => {
            let req = DataCheckRequest {
                path: project.data.clone(),
                options: project.data_options.clone(),
                lengths: Some(LengthCheck { model: project.model.clone(), prompt: project.prompt.clone() }),
            };
            let out = run_data_check(&req, sink, cancel).map_err(stage_error)?;
            let mut manifest = out.dataset.manifest_json();
            manifest["tokenize"] = serde_json::to_value(&out.tokenized).unwrap_or_default();
            let path = paths::manifest(dir);
            let text = serde_json::to_vec_pretty(&manifest).map_err(|e| PipelineError::Stage(e.to_string()))?;
            write_atomic(&path, &text).map_err(|e| PipelineError::io(&path, e))?;
            Ok(Some(format!("{} examples", out.dataset.examples.len())))
        }
        StageId::Embed => {
            let req = EmbedRequest {
                data: project.data.clone(),
                data_options: project.data_options.clone(),
                encoder: EncoderRequest { name: project.encoder.clone(), device: device()?, options: EmbedOptions::default() },
                field: project.field,
                out: paths::embeddings(dir),
            };
            let out = run_embed(&req, sink, cancel).map_err(stage_error)?;
            Ok(Some(format!("{} x {} ({})", out.embeddings.rows, out.embeddings.dim, out.embeddings.encoder)))
        }
        StageId::Cluster => {
            let req = ClusterRequest {
                data: project.data.clone(),
                data_options: project.data_options.clone(),
                embeddings: EmbeddingSource::File(paths::embeddings(dir)),
                options: project.cluster.clone(),
                by: project.by.clone(),
                out: paths::clusters(dir),
            };
            let out = run_cluster(&req, sink, cancel).map_err(stage_error)?;
            let sil = out.quality.silhouette.map(|s| format!(", silhouette {s:.3}")).unwrap_or_default();
            Ok(Some(format!("K = {}, sizes {:?}{sil}", out.k, out.quality.sizes)))
        }
        StageId::Train(run) => {
            let rows = (run != "vanilla").then(|| format!("{}:{}", paths::clusters(dir).display(), run.trim_start_matches("sub-")));
            let req = SftRequest {
                run: run.clone(),
                model: project.model.clone(),
                load: LoadOptions { device: device()?, dtype: project.dtype, adapter: None, keep_quantized: project.keep_quantized },
                data: project.data.clone(),
                data_options: project.data_options.clone(),
                rows,
                prompt: project.prompt.clone(),
                val_fraction: project.raw.data.val_fraction,
                val_max: project.raw.data.val_max,
                out_dir: paths::run(dir, run),
                config: project.train.clone(),
                checkpointing: project.checkpointing,
                memory_check: project.memory_check,
            };
            let state = run_sft(&req, sink, cancel).map_err(stage_error)?;
            let last = state.evals.last();
            Ok(last.map(|e| match e.val_loss {
                Some(v) => format!("val loss {v:.4}"),
                None => format!("train loss {:.4}", e.train_loss),
            }))
        }
        StageId::Merge(name) => {
            let plan =
                project.merges.iter().find(|m| &m.name == name).ok_or_else(|| PipelineError::Stage(format!("no merge named '{name}'")))?;
            let req = MergeRequest {
                base: project.model.clone(),
                adapters: (0..k).map(|i| paths::run(dir, &format!("sub-{i}"))).collect(),
                spec: plan.spec.clone(),
                output: plan.output,
                out: paths::merge(dir, name),
                full: Default::default(),
                overwrite: true,
            };
            let out = run_merge(&req, sink, cancel).map_err(stage_error)?;
            Ok(Some(match (&out.adapter, &out.full) {
                (Some(a), _) => format!("max relative error {:.2e}", a.max_rel_error),
                (_, Some(f)) => format!("{} tensors, {} merged", f.tensors, f.merged_tensors),
                _ => out.method,
            }))
        }
        StageId::Eval { model, bench } => {
            let plan = project
                .evals
                .iter()
                .find(|e| &e.spec.name == bench)
                .ok_or_else(|| PipelineError::Stage(format!("no benchmark '{bench}'")))?;
            let (model_arg, adapter) = model_source(project, model);
            let req = EvalRequest {
                model: model_arg.clone(),
                load: LoadOptions { device: device()?, dtype: project.dtype, adapter, keep_quantized: project.keep_quantized },
                benchmarks: vec![plan.spec.clone()],
                options: EvalOptions {
                    fewshot: plan.fewshot,
                    limit: plan.limit,
                    batch: plan.batch,
                    max_new_tokens: plan.max_new_tokens,
                    ..Default::default()
                },
                out_dir: paths::eval_dir(dir, model),
                // Hashed once per model (cached by size and time), not once per benchmark.
                model_sha256: cached_hash(dir, Path::new(&model_arg), cancel)?,
            };
            let out = run_eval(&req, sink, cancel).map_err(stage_error)?;
            Ok(out.first().and_then(|o| {
                let m = headline_metrics(&o.result).into_iter().next()?;
                let se = o.result.metrics.get(&format!("{m}_stderr")).copied().unwrap_or(0.0);
                Some(format!("{m} {:.4} ± {se:.4}", o.result.metrics[&m]))
            }))
        }
        StageId::Report => write_report(project, k).map(Some),
    }
}

/// The SHA-256 of a model path from the project's hash cache; `None` for a cached HF id.
fn cached_hash(dir: &Path, path: &Path, cancel: &CancelToken) -> Result<Option<String>, PipelineError> {
    if !path.exists() {
        return Ok(None);
    }
    let mut files = FileHashCache::open(dir, cancel);
    let hash = files.hash(path)?;
    files.save()?;
    Ok(Some(hash))
}

/// The models' results in table order (base first), the runs and the split.
fn report_models(project: &Project, k: usize) -> Result<Vec<ModelResults>, PipelineError> {
    super::plan::model_labels(project, k)
        .into_iter()
        .map(|label| {
            let mut m = read_results_dir(&paths::eval_dir(&project.dir, &label)).map_err(stage_error)?;
            m.label = label;
            Ok(m)
        })
        .collect()
}

/// `report/`: report.md, results.csv and the charts, from every model's results, the training
/// runs and the split.
fn write_report(project: &Project, k: usize) -> Result<String, PipelineError> {
    let dir = &project.dir;
    if project.evals.is_empty() {
        let md = "# Report\n\nNo benchmarks are listed in dtm.toml ([[eval]]), so there is nothing to compare.\n";
        let path = paths::report(dir).join("report.md");
        write_atomic(&path, md.as_bytes()).map_err(|e| PipelineError::io(&path, e))?;
        return Ok("no benchmarks".into());
    }
    let models = report_models(project, k)?;
    let runs = super::plan::model_labels(project, k)
        .iter()
        .filter(|l| *l == "vanilla" || l.starts_with("sub-"))
        .filter_map(|run| TrainerState::read(&paths::run(dir, run)).ok().flatten())
        .collect();
    let raw = &project.raw;
    let settings = vec![
        ("model".to_string(), project.model.clone()),
        ("data".to_string(), project.data.display().to_string()),
        (
            "disperse".to_string(),
            format!(
                "{} on {} embeddings ({}), K = {k}, seed {}",
                raw.disperse.method, project.encoder, raw.disperse.field, raw.disperse.seed
            ),
        ),
        (
            "training".to_string(),
            format!(
                "preset {}, r {}, lr {}, {} steps max, max length {}",
                raw.train.preset.as_deref().unwrap_or("paper"),
                project.train.lora.rank,
                project.train.learning_rate,
                project.train.max_steps.map(|s| s.to_string()).unwrap_or_else(|| "all".into()),
                project.train.max_len
            ),
        ),
        (
            "merges".to_string(),
            project.merges.iter().map(|m| format!("{} ({})", m.name, m.spec.method.name())).collect::<Vec<_>>().join(", "),
        ),
        (
            "benchmarks".to_string(),
            project
                .evals
                .iter()
                .map(|e| format!("{} (limit {})", e.spec.name, e.limit.map(|l| l.to_string()).unwrap_or_else(|| "none".into())))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    let input = ReportInput {
        title: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "DTM Studio report".into()),
        settings,
        models,
        runs,
        clusters: ClustersFile::load(&paths::clusters(dir)).ok(),
    };
    let files = crate::engine::report::write_report(&input, &paths::report(dir)).map_err(|e| PipelineError::Stage(e.to_string()))?;
    Ok(format!(
        "{} charts{}",
        files.charts.len(),
        if files.skipped.is_empty() { String::new() } else { format!(", {} skipped", files.skipped.len()) }
    ))
}
