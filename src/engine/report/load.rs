//! Gathering a report's input from files: result folders (`<benchmark>.json` per model), run
//! folders (`trainer_state.json`) and a `clusters.json`. Used by `dtm-studio report`; the
//! pipeline builds a [`ReportInput`] from what it already holds.

use super::{ReportError, ReportInput};
use crate::engine::cluster::ClustersFile;
use crate::engine::eval::comparison::read_results_dir;
use crate::engine::train::state::TrainerState;
use std::path::{Path, PathBuf};

/// Where a report's inputs are.
#[derive(Debug, Clone, Default)]
pub struct ReportSources {
    /// The report's title.
    pub title: String,
    /// Result folders, one per model (the folder name labels the model).
    pub results: Vec<PathBuf>,
    /// The label of the base model; the first folder when `None`.
    pub base: Option<String>,
    /// Run folders holding a `trainer_state.json` (or the files themselves).
    pub runs: Vec<PathBuf>,
    /// A `clusters.json`.
    pub clusters: Option<PathBuf>,
}

/// The run folder of `path`: itself, or the folder of a `trainer_state.json` given directly.
fn run_dir(path: &Path) -> &Path {
    if path.file_name().is_some_and(|n| n == TrainerState::FILE) && path.is_file() {
        path.parent().unwrap_or(path)
    } else {
        path
    }
}

/// Reads everything `sources` names; the base model is moved first. The settings list the
/// inputs.
pub fn load_input(sources: &ReportSources) -> Result<ReportInput, ReportError> {
    let mut models = Vec::with_capacity(sources.results.len());
    for dir in &sources.results {
        models.push(read_results_dir(dir).map_err(|source| ReportError::Results { path: dir.clone(), source: Box::new(source) })?);
    }
    if models.is_empty() {
        return Err(ReportError::NoModels);
    }
    if let Some(label) = &sources.base {
        let i = models.iter().position(|m| &m.label == label).ok_or_else(|| ReportError::NoSuchBase {
            label: label.clone(),
            found: models.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        let base = models.remove(i);
        models.insert(0, base);
    }
    let mut runs = Vec::with_capacity(sources.runs.len());
    for path in &sources.runs {
        let dir = run_dir(path);
        match TrainerState::read(dir) {
            Ok(Some(state)) => runs.push(state),
            Ok(None) => {
                return Err(ReportError::Run {
                    path: dir.to_path_buf(),
                    detail: format!("no {} here; name a training run folder such as train/vanilla", TrainerState::FILE),
                })
            }
            Err(e) => return Err(ReportError::Run { path: dir.to_path_buf(), detail: e.to_string() }),
        }
    }
    let clusters = match &sources.clusters {
        Some(p) => Some(ClustersFile::load(p).map_err(|source| ReportError::Clusters { path: p.clone(), source: Box::new(source) })?),
        None => None,
    };
    let mut settings = vec![("base model".to_string(), models[0].label.clone())];
    let shown = |ps: &[PathBuf]| ps.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    settings.push(("result folders".into(), shown(&sources.results)));
    if !sources.runs.is_empty() {
        settings.push(("training runs".into(), shown(&sources.runs)));
    }
    if let Some(p) = &sources.clusters {
        settings.push(("clusters file".into(), p.display().to_string()));
    }
    settings.push(("DTM Studio version".into(), env!("CARGO_PKG_VERSION").into()));
    Ok(ReportInput { title: sources.title.clone(), settings, models, runs, clusters })
}
