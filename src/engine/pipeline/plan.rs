//! The plan of a project: its stages in dependency order, each with its inputs, its outputs in
//! the run directory and the settings it depends on. A stage's expected stamp hashes its settings
//! with its inputs' expected stamps, so a changed setting makes the stage and everything
//! downstream of it stale, and nothing else.

use super::error::PipelineError;
use super::project::Project;
use crate::engine::hash::sha256_hex;
use serde_json::json;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A stage of a project's run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageId {
    /// Read and check the data (`data/manifest.json`).
    Data,
    /// Embed it (`disperse/embeddings.safetensors`).
    Embed,
    /// Split it into K portions (`disperse/clusters.json`).
    Cluster,
    /// Train a run: `vanilla` (all data) or `sub-N` (portion N) (`train/<run>/`).
    Train(String),
    /// A named merge of the sub-models (`merge/<name>/`).
    Merge(String),
    /// Score a model (base, vanilla, sub-N or a merge) on a benchmark (`eval/<model>/<bench>.json`).
    Eval {
        /// The model's label.
        model: String,
        /// The benchmark's name.
        bench: String,
    },
    /// The comparison report (`report/`).
    Report,
}

impl fmt::Display for StageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageId::Data => f.write_str("data"),
            StageId::Embed => f.write_str("embed"),
            StageId::Cluster => f.write_str("cluster"),
            StageId::Train(run) => write!(f, "train:{run}"),
            StageId::Merge(name) => write!(f, "merge:{name}"),
            StageId::Eval { model, bench } => write!(f, "eval:{model}:{bench}"),
            StageId::Report => f.write_str("report"),
        }
    }
}

impl FromStr for StageId {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        Ok(match parts.as_slice() {
            ["data"] => StageId::Data,
            ["embed"] => StageId::Embed,
            ["cluster"] => StageId::Cluster,
            ["report"] => StageId::Report,
            ["train", run] => StageId::Train(run.to_string()),
            ["merge", name] => StageId::Merge(name.to_string()),
            ["eval", model, bench] => StageId::Eval { model: model.to_string(), bench: bench.to_string() },
            _ => {
                return Err(PipelineError::Stage(format!(
                    "'{s}' is not a stage: use data, embed, cluster, train:RUN, merge:NAME, eval:MODEL:BENCH or report"
                )))
            }
        })
    }
}

impl StageId {
    /// A file name for the stage's records (`:` replaced).
    pub fn file_name(&self) -> String {
        self.to_string().replace(':', "__")
    }

    /// Whether `pattern` (with `*` matching any run of characters) names this stage.
    pub fn matches(&self, pattern: &str) -> bool {
        glob_match(pattern.trim(), &self.to_string())
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else { return pattern == text };
    let Some(mut remaining) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = rest.split('*').collect();
    for (i, piece) in pieces.iter().enumerate() {
        if i == pieces.len() - 1 {
            return remaining.ends_with(piece);
        }
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// One stage of the plan.
#[derive(Debug, Clone)]
pub struct PlannedStage {
    /// Which stage.
    pub id: StageId,
    /// The stages whose outputs it reads.
    pub inputs: Vec<StageId>,
    /// Files or folders it writes (all must exist for the stage to be done).
    pub outputs: Vec<PathBuf>,
    /// The settings it depends on (hashed into its stamp).
    pub settings: serde_json::Value,
    /// Its expected stamp: settings and inputs' expected stamps, hashed.
    pub stamp: String,
}

/// Where each stage writes, relative to the project folder.
pub mod paths {
    use std::path::{Path, PathBuf};

    /// `data/manifest.json`.
    pub fn manifest(dir: &Path) -> PathBuf {
        dir.join("data/manifest.json")
    }
    /// `disperse/embeddings.safetensors`.
    pub fn embeddings(dir: &Path) -> PathBuf {
        dir.join("disperse/embeddings.safetensors")
    }
    /// `disperse/clusters.json`.
    pub fn clusters(dir: &Path) -> PathBuf {
        dir.join("disperse/clusters.json")
    }
    /// `train/<run>/`.
    pub fn run(dir: &Path, run: &str) -> PathBuf {
        dir.join("train").join(run)
    }
    /// `merge/<name>/`.
    pub fn merge(dir: &Path, name: &str) -> PathBuf {
        dir.join("merge").join(name)
    }
    /// `eval/<model>/`.
    pub fn eval_dir(dir: &Path, model: &str) -> PathBuf {
        dir.join("eval").join(model)
    }
    /// `report/`.
    pub fn report(dir: &Path) -> PathBuf {
        dir.join("report")
    }
}

/// Hashes of the files the plan reads from outside the run directory (data, model, benchmarks).
pub trait FileHasher {
    /// The SHA-256 of a file or folder (cached while its size and time are unchanged).
    fn hash(&mut self, path: &std::path::Path) -> Result<String, PipelineError>;
}

/// The models that are evaluated, in table order: base, vanilla, sub-0.., merges.
pub fn model_labels(project: &Project, k: usize) -> Vec<String> {
    let mut labels = vec!["base".to_string()];
    if project.vanilla {
        labels.push("vanilla".into());
    }
    labels.extend((0..k).map(|i| format!("sub-{i}")));
    labels.extend(project.merges.iter().map(|m| m.name.clone()));
    labels
}

/// The stages of `project` with `k` portions, in an order that runs every input first.
pub fn plan(project: &Project, k: usize, files: &mut dyn FileHasher) -> Result<Vec<PlannedStage>, PipelineError> {
    let dir = &project.dir;
    let raw = &project.raw;
    let data_hash = files.hash(&project.data)?;
    let model_path = std::path::Path::new(&project.model);
    let model_hash = if model_path.exists() { files.hash(model_path)? } else { project.model.clone() };
    let mut stages: Vec<PlannedStage> = Vec::new();
    let add = |id: StageId, inputs: Vec<StageId>, outputs: Vec<PathBuf>, settings: serde_json::Value, stages: &mut Vec<PlannedStage>| {
        let input_stamps: Vec<&str> = inputs.iter().filter_map(|i| stages.iter().find(|s| &s.id == i).map(|s| s.stamp.as_str())).collect();
        let stamp = sha256_hex(json!({"stage": id.to_string(), "settings": settings, "inputs": input_stamps}).to_string().as_bytes());
        stages.push(PlannedStage { id, inputs, outputs, settings, stamp });
    };
    add(StageId::Data, vec![], vec![paths::manifest(dir)], json!({"data": raw.data, "sha256": data_hash}), &mut stages);
    add(
        StageId::Embed,
        vec![StageId::Data],
        vec![paths::embeddings(dir)],
        json!({"encoder": project.encoder, "field": raw.disperse.field}),
        &mut stages,
    );
    add(StageId::Cluster, vec![StageId::Embed], vec![paths::clusters(dir)], json!({"disperse": raw.disperse}), &mut stages);
    let train_settings = json!({"model": model_hash, "dtype": raw.model.dtype, "config": project.train, "data": raw.data});
    let mut runs: Vec<String> = Vec::new();
    if project.vanilla {
        runs.push("vanilla".into());
    }
    runs.extend((0..k).map(|i| format!("sub-{i}")));
    for run in &runs {
        let inputs = if run == "vanilla" { vec![StageId::Data] } else { vec![StageId::Cluster] };
        let out = paths::run(dir, run).join("adapter_model.safetensors");
        add(StageId::Train(run.clone()), inputs, vec![out], json!({"run": run, "train": train_settings}), &mut stages);
    }
    let subs: Vec<StageId> = (0..k).map(|i| StageId::Train(format!("sub-{i}"))).collect();
    for m in &project.merges {
        let settings = json!({"merge": raw.merges.iter().find(|r| r.name == m.name), "k": k});
        add(StageId::Merge(m.name.clone()), subs.clone(), vec![paths::merge(dir, &m.name)], settings, &mut stages);
    }
    let mut evals = Vec::new();
    for e in &project.evals {
        let bench_hash = files.hash(&e.spec.path)?;
        for model in model_labels(project, k) {
            let source = if model == "base" {
                vec![]
            } else if model == "vanilla" || model.starts_with("sub-") {
                vec![StageId::Train(model.clone())]
            } else {
                vec![StageId::Merge(model.clone())]
            };
            let id = StageId::Eval { model: model.clone(), bench: e.spec.name.clone() };
            let out = paths::eval_dir(dir, &model).join(format!("{}.json", e.spec.name));
            let settings = json!({"bench": raw.evals.iter().find(|r| r.name == e.spec.name), "sha256": bench_hash, "base": model_hash});
            add(id.clone(), source, vec![out], settings, &mut stages);
            evals.push(id);
        }
    }
    add(
        StageId::Report,
        evals,
        vec![paths::report(dir).join("report.md")],
        json!({"title": project.dir.file_name().map(|n| n.to_string_lossy().into_owned())}),
        &mut stages,
    );
    Ok(stages)
}

/// The names of the stages matching `patterns` and of every stage they read from, directly or
/// through others, in plan order: what a run limited to `patterns` needs to run them. Reads no
/// file; a project whose plan cannot be made gives `patterns` back.
pub fn with_inputs(project: &Project, k: usize, patterns: &[String]) -> Vec<String> {
    struct NoFiles;
    impl FileHasher for NoFiles {
        fn hash(&mut self, _: &std::path::Path) -> Result<String, PipelineError> {
            Ok(String::new())
        }
    }
    let Ok(stages) = plan(project, k, &mut NoFiles) else { return patterns.to_vec() };
    let mut wanted: Vec<bool> = stages.iter().map(|s| patterns.iter().any(|p| s.id.matches(p))).collect();
    // Inputs come before the stages that read them, so one backward pass closes the set.
    for i in (0..stages.len()).rev() {
        if wanted[i] {
            for input in &stages[i].inputs {
                if let Some(j) = stages.iter().position(|s| &s.id == input) {
                    wanted[j] = true;
                }
            }
        }
    }
    stages.iter().zip(wanted).filter(|(_, w)| *w).map(|(s, _)| s.id.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_round_trip_and_globs_match() {
        for s in ["data", "embed", "cluster", "train:sub-3", "merge:linear", "eval:base:arc_easy", "report"] {
            assert_eq!(s.parse::<StageId>().unwrap().to_string(), s);
        }
        assert!("train:".parse::<StageId>().is_ok() && "nonsense".parse::<StageId>().is_err());
        let id = StageId::Eval { model: "sub-1".into(), bench: "mmlu".into() };
        assert!(id.matches("eval:*") && id.matches("eval:sub-*:mmlu") && id.matches("*mmlu") && !id.matches("eval:base:*"));
        assert!(glob_match("train:*", "train:vanilla") && !glob_match("train:*", "merge:x") && glob_match("*", "report"));
    }
}
