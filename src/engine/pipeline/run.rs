//! Running a project: plan, skip what is done, run the rest in dependency order, record each
//! stage's outcome, and go on with independent stages when one fails. The CLI's `run` and
//! `status` and the GUI call [`run_project`] and [`project_status`].

use super::error::PipelineError;
use super::plan::{paths, plan, PlannedStage, StageId};
use super::project::Project;
use super::records::{read_record, remove_leftovers, state_of, write_record, FileHashCache, Outcome, ProjectLock, StageRecord, StageState};
use super::stages::run_stage_of;
use crate::engine::cluster::{ClusterMethod, ClustersFile};
use crate::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Which stages a run takes on.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only stages matching one of these patterns (`*` wildcards), plus nothing else.
    pub only: Vec<String>,
    /// Start at this stage (in plan order); earlier ones are left as they are.
    pub from: Option<String>,
    /// Re-run these stages (patterns) even when done.
    pub force: Vec<String>,
}

/// What happened to a stage in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// It ran and finished.
    Ran {
        /// Wall-clock seconds.
        seconds: f64,
    },
    /// It was already done.
    Done,
    /// It failed.
    Failed {
        /// Why.
        message: String,
    },
    /// An input is not done (failed, or outside the selection).
    Blocked {
        /// The input.
        by: String,
    },
    /// Outside `only` / `from`.
    NotSelected,
}

/// The end of a run: every stage with what happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Stage and action, in plan order.
    pub stages: Vec<(String, Action)>,
}

impl RunSummary {
    /// The stages that failed, with their messages.
    pub fn failed(&self) -> Vec<(String, String)> {
        self.stages
            .iter()
            .filter_map(|(s, a)| match a {
                Action::Failed { message } => Some((s.clone(), message.clone())),
                _ => None,
            })
            .collect()
    }
}

/// K: from the split when it is done (the method `field` makes one portion per value), else the
/// setting.
fn portions(project: &Project, stages: Option<&[PlannedStage]>) -> usize {
    let cluster_done =
        stages.and_then(|s| s.iter().find(|p| p.id == StageId::Cluster)).map(|p| state_of(&project.dir, p) == StageState::Done);
    if project.cluster.method == ClusterMethod::Field && cluster_done.unwrap_or(true) {
        if let Ok(c) = ClustersFile::load(&paths::clusters(&project.dir)) {
            return c.k;
        }
    }
    project.k()
}

/// The plan with K settled.
fn settled_plan(project: &Project, files: &mut FileHashCache) -> Result<(Vec<PlannedStage>, usize), PipelineError> {
    let first = plan(project, project.k(), files)?;
    let k = portions(project, Some(&first));
    let stages = if k == project.k() { first } else { plan(project, k, files)? };
    files.save()?;
    Ok((stages, k))
}

/// Checks K against the data before any work: from the manifest when the data stage is done,
/// else by reading the data.
fn check_rows(project: &Project, stages: &[PlannedStage]) -> Result<(), PipelineError> {
    if project.cluster.method == ClusterMethod::Field {
        return Ok(());
    }
    let data_done = stages.iter().find(|s| s.id == StageId::Data).is_some_and(|s| state_of(&project.dir, s) == StageState::Done);
    let rows = if data_done {
        std::fs::read_to_string(paths::manifest(&project.dir))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["examples"].as_u64())
            .map(|n| n as usize)
    } else {
        crate::engine::data::load_dataset(&project.data, &project.data_options).ok().map(|d| d.examples.len())
    };
    match rows {
        Some(n) if project.k() > n => Err(PipelineError::Invalid {
            file: project.file.clone(),
            line: super::project::key_line(&project.file, "disperse", "k"),
            key: "disperse.k".into(),
            detail: format!("K = {} is larger than the {n} rows of {}: every portion needs rows", project.k(), project.data.display()),
        }),
        _ => Ok(()),
    }
}

/// Runs every selected stage that is not done, in order, under the project lock. A failed stage
/// is recorded and its dependents are skipped; independent stages go on. Returns the summary, or
/// `StagesFailed` when any failed, or `Cancelled`.
pub fn run_project(dir: &Path, opts: &RunOptions, sink: &EventSink, cancel: &CancelToken) -> Result<RunSummary, PipelineError> {
    run_stage("run", sink, cancel, |scope| run_stages(dir, opts, &scope))
}

fn run_stages(dir: &Path, opts: &RunOptions, scope: &StageScope<'_>) -> Result<RunSummary, PipelineError> {
    let (sink, cancel) = (scope.sink, scope.cancel);
    let project = Project::load(dir)?;
    let _lock = ProjectLock::acquire(&project.dir, &opts.only)?;
    if opts.only.is_empty() {
        // Only a run of the whole project knows that no other process is writing.
        remove_leftovers(&project.dir);
    }
    let mut files = FileHashCache::open(&project.dir, cancel);
    let (mut stages, mut k) = settled_plan(&project, &mut files)?;
    check_rows(&project, &stages)?;
    for pattern in opts.only.iter().chain(&opts.force).chain(&opts.from) {
        if !stages.iter().any(|s| s.id.matches(pattern)) {
            return Err(PipelineError::Stage(format!("'{pattern}' names no stage of this project; `status` lists them")));
        }
    }
    let from_index = opts.from.as_ref().and_then(|f| stages.iter().position(|s| s.id.matches(f)));
    let selected =
        |i: usize, id: &StageId| (opts.only.is_empty() || opts.only.iter().any(|p| id.matches(p))) && from_index.is_none_or(|f| i >= f);
    let forced = |id: &StageId| opts.force.iter().any(|p| id.matches(p));
    let todo = stages
        .iter()
        .enumerate()
        .filter(|(i, s)| selected(*i, &s.id) && (forced(&s.id) || state_of(&project.dir, s) != StageState::Done))
        .count() as u64;
    let mut finished = 0u64;
    scope.progress(0, todo, "");
    let mut summary = Vec::new();
    let mut i = 0;
    while i < stages.len() {
        let stage = stages[i].clone();
        let (selected, forced) = (selected(i, &stage.id), forced(&stage.id));
        i += 1;
        let name = stage.id.to_string();
        if !selected {
            summary.push((name, Action::NotSelected));
            continue;
        }
        if state_of(&project.dir, &stage) == StageState::Done && !forced {
            summary.push((name, Action::Done));
            continue;
        }
        let blocker = stage
            .inputs
            .iter()
            .find(|input| stages.iter().find(|s| &s.id == *input).is_none_or(|s| state_of(&project.dir, s) != StageState::Done));
        if let Some(b) = blocker {
            summary.push((name, Action::Blocked { by: b.to_string() }));
            continue;
        }
        cancel.check()?;
        sink.log(format!("[{name}] started"));
        let started = Instant::now();
        let result = run_stage_of(&project, &stage.id, k, sink, cancel);
        let seconds = started.elapsed().as_secs_f64();
        finished += 1;
        scope.progress(finished.min(todo), todo, name.clone());
        let record =
            |outcome, message, figure| StageRecord { stage: name.clone(), stamp: stage.stamp.clone(), outcome, message, seconds, figure };
        match result {
            Ok(figure) => {
                sink.log(format!("[{name}] done in {seconds:.1} s{}", figure.as_deref().map(|f| format!(": {f}")).unwrap_or_default()));
                write_record(&project.dir, &stage.id, &record(Outcome::Done, None, figure))?;
                summary.push((name, Action::Ran { seconds }));
                if stage.id == StageId::Cluster {
                    // The method `field` settles K only now: plan the rest again.
                    let settled = settled_plan(&project, &mut files)?;
                    if settled.1 != k {
                        (stages, k) = settled;
                        i = stages.iter().position(|s| s.id == StageId::Cluster).map_or(i, |p| p + 1);
                    }
                }
            }
            Err(PipelineError::Cancelled(c)) => return Err(PipelineError::Cancelled(c)),
            Err(e) => {
                let message = e.to_string();
                sink.warn(format!("[{name}] failed: {message}"));
                write_record(&project.dir, &stage.id, &record(Outcome::Failed, Some(message.clone()), None))?;
                summary.push((name, Action::Failed { message }));
            }
        }
    }
    scope.progress(todo, todo, "");
    let summary = RunSummary { stages: summary };
    let failed = summary.failed();
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(PipelineError::StagesFailed { failed })
    }
}

/// One stage in `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    /// The stage.
    pub stage: String,
    /// Where it stands.
    pub state: StageState,
    /// Seconds of its last run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Its key figure, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figure: Option<String>,
}

/// Every stage of the project with its state, last duration and key figure. Reads no model.
pub fn project_status(dir: &Path) -> Result<Vec<StageStatus>, PipelineError> {
    let project = Project::load(dir)?;
    let mut files = FileHashCache::open(&project.dir, &CancelToken::new());
    let (stages, _) = settled_plan(&project, &mut files)?;
    Ok(stages
        .iter()
        .map(|s| {
            let record = read_record(&project.dir, &s.id);
            let state = state_of(&project.dir, s);
            StageStatus {
                stage: s.id.to_string(),
                state,
                seconds: record.as_ref().map(|r| r.seconds),
                figure: record.and_then(|r| if r.outcome == Outcome::Failed { r.message } else { r.figure }),
            }
        })
        .collect())
}
