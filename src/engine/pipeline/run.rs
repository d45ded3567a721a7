//! Running a project: plan, skip what is done, run the rest in dependency order, record each
//! stage's outcome, and go on with independent stages when one fails. The CLI's `run` and
//! `status` and the GUI call [`run_project`] and [`project_status`].

use super::error::PipelineError;
use super::plan::{paths, plan, PlannedStage, StageId};
use super::project::Project;
use super::records::{
    is_running, read_record, remove_leftovers, state_of, write_record, FileHashCache, Outcome, ProjectLock, RunningMarker, StageRecord,
    StageState,
};
use super::stages::run_stage_of;
use crate::engine::cluster::{ClusterMethod, ClustersFile};
use crate::engine::device::DeviceRequest;
use crate::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use serde::Serialize;
use std::path::Path;
use std::sync::{Condvar, Mutex};
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
    let project = Project::load(dir)?;
    let _lock = ProjectLock::acquire(&project.dir, &opts.only)?;
    if opts.only.is_empty() {
        // Only a run of the whole project knows that no other process is writing.
        remove_leftovers(&project.dir);
    }
    let mut files = FileHashCache::open(&project.dir, scope.cancel);
    let (mut stages, mut k) = settled_plan(&project, &mut files)?;
    check_rows(&project, &stages)?;
    for pattern in opts.only.iter().chain(&opts.force).chain(&opts.from) {
        if !stages.iter().any(|s| s.id.matches(pattern)) {
            return Err(PipelineError::Stage(format!("'{pattern}' names no stage of this project; `status` lists them")));
        }
    }
    let from_index = opts.from.as_ref().and_then(|f| stages.iter().position(|s| s.id.matches(f)));
    let choice = Choice { opts, from_index };
    let todo = stages
        .iter()
        .enumerate()
        .filter(|(i, s)| choice.selected(*i, &s.id) && (choice.forced(&s.id) || state_of(&project.dir, s) != StageState::Done))
        .count() as u64;
    let mut finished = 0u64;
    scope.progress(0, todo, "");
    // Data, embed and cluster come first and settle K (the method `field` makes one portion per
    // value); then the rest is planned again and runs, in parallel over the devices.
    let prepared = stages.iter().position(|s| s.id == StageId::Cluster).map_or(0, |p| p + 1);
    let mut summary = schedule(&project, &stages, 0..prepared, k, &choice, scope, todo, &mut finished)?;
    let settled = settled_plan(&project, &mut files)?;
    if settled.1 != k {
        (stages, k) = settled;
    }
    summary.extend(schedule(&project, &stages, prepared..stages.len(), k, &choice, scope, todo, &mut finished)?);
    scope.progress(todo, todo, "");
    let summary = RunSummary { stages: summary };
    let failed = summary.failed();
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(PipelineError::StagesFailed { failed })
    }
}

/// Which stages a run takes on.
struct Choice<'a> {
    opts: &'a RunOptions,
    from_index: Option<usize>,
}

impl Choice<'_> {
    fn selected(&self, index: usize, id: &StageId) -> bool {
        (self.opts.only.is_empty() || self.opts.only.iter().any(|p| id.matches(p))) && self.from_index.is_none_or(|f| index >= f)
    }

    fn forced(&self, id: &StageId) -> bool {
        self.opts.force.iter().any(|p| id.matches(p))
    }
}

/// Where a stage is in a run.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Waiting,
    Running,
    Ended(Action),
}

/// Whether a waiting stage can start.
enum Readiness {
    Ready,
    NotYet,
    Dead(String),
}

struct Board {
    slots: Vec<Slot>,
    cancelled: Option<crate::engine::job::Cancelled>,
    finished: u64,
}

/// Runs the stages `range` of `plan` with one worker per device: each takes the
/// first waiting stage whose inputs are done, so independent stages run side by side and an
/// evaluation starts as soon as its model is trained. A stage whose input failed is blocked;
/// a cancellation stops every worker.
#[allow(clippy::too_many_arguments)]
fn schedule(
    project: &Project,
    plan: &[PlannedStage],
    range: std::ops::Range<usize>,
    k: usize,
    choice: &Choice<'_>,
    scope: &StageScope<'_>,
    todo: u64,
    finished: &mut u64,
) -> Result<Vec<(String, Action)>, PipelineError> {
    let dir = &project.dir;
    let first = range.start;
    let stages = &plan[range];
    let slots = stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if !choice.selected(first + i, &s.id) {
                Slot::Ended(Action::NotSelected)
            } else if state_of(dir, s) == StageState::Done && !choice.forced(&s.id) {
                Slot::Ended(Action::Done)
            } else {
                Slot::Waiting
            }
        })
        .collect();
    let board = Mutex::new(Board { slots, cancelled: None, finished: *finished });
    let changed = Condvar::new();
    let readiness = |b: &Board, stage: &PlannedStage| -> Readiness {
        for input in &stage.inputs {
            let slot = stages.iter().position(|s| &s.id == input).map(|p| &b.slots[p]);
            let done_on_disk = || plan.iter().find(|s| &s.id == input).is_some_and(|s| state_of(dir, s) == StageState::Done);
            match slot {
                Some(Slot::Waiting | Slot::Running) => return Readiness::NotYet,
                Some(Slot::Ended(Action::Ran { .. } | Action::Done)) => {}
                Some(Slot::Ended(Action::NotSelected)) | None if done_on_disk() => {}
                _ => return Readiness::Dead(input.to_string()),
            }
        }
        Readiness::Ready
    };
    let worker = |device: DeviceRequest| loop {
        let mut b = board.lock().unwrap_or_else(|p| p.into_inner());
        let job = loop {
            if let Err(c) = scope.check() {
                b.cancelled.get_or_insert(c);
                changed.notify_all();
            }
            if b.cancelled.is_some() {
                return;
            }
            let mut pick = None;
            for (i, stage) in stages.iter().enumerate() {
                if b.slots[i] != Slot::Waiting {
                    continue;
                }
                match readiness(&b, stage) {
                    Readiness::Ready => {
                        pick = Some(i);
                        break;
                    }
                    Readiness::Dead(by) => b.slots[i] = Slot::Ended(Action::Blocked { by }),
                    Readiness::NotYet => {}
                }
            }
            if let Some(i) = pick {
                b.slots[i] = Slot::Running;
                break i;
            }
            if !b.slots.iter().any(|s| matches!(s, Slot::Waiting | Slot::Running)) {
                changed.notify_all();
                return;
            }
            b = changed.wait(b).unwrap_or_else(|p| p.into_inner());
        };
        drop(b);
        let stage = &stages[job];
        let name = stage.id.to_string();
        scope.log(format!("[{name}] started"));
        let started = Instant::now();
        let marker = RunningMarker::new(dir, &stage.id);
        let result = run_stage_of(project, &stage.id, k, device, scope.sink, scope.cancel);
        drop(marker);
        let seconds = started.elapsed().as_secs_f64();
        let record =
            |outcome, message, figure| StageRecord { stage: name.clone(), stamp: stage.stamp.clone(), outcome, message, seconds, figure };
        let ended = match result {
            Ok(figure) => {
                scope.log(format!("[{name}] done in {seconds:.1} s{}", figure.as_deref().map(|f| format!(": {f}")).unwrap_or_default()));
                match write_record(dir, &stage.id, &record(Outcome::Done, None, figure)) {
                    Ok(()) => Slot::Ended(Action::Ran { seconds }),
                    Err(e) => Slot::Ended(Action::Failed { message: e.to_string() }),
                }
            }
            Err(PipelineError::Cancelled(c)) => {
                let mut b = board.lock().unwrap_or_else(|p| p.into_inner());
                b.cancelled = Some(c);
                b.slots[job] = Slot::Waiting;
                changed.notify_all();
                return;
            }
            Err(e) => {
                let message = e.to_string();
                scope.warn(format!("[{name}] failed: {message}"));
                let _ = write_record(dir, &stage.id, &record(Outcome::Failed, Some(message.clone()), None));
                Slot::Ended(Action::Failed { message })
            }
        };
        let mut b = board.lock().unwrap_or_else(|p| p.into_inner());
        b.slots[job] = ended;
        b.finished += 1;
        scope.progress(b.finished.min(todo), todo, name);
        changed.notify_all();
    };
    std::thread::scope(|s| {
        for &device in &project.devices {
            let worker = &worker;
            s.spawn(move || worker(device));
        }
    });
    let b = board.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = b.cancelled {
        return Err(PipelineError::Cancelled(c));
    }
    *finished = b.finished;
    Ok(stages
        .iter()
        .zip(b.slots)
        .map(|(s, slot)| {
            let action = match slot {
                Slot::Ended(a) => a,
                Slot::Waiting | Slot::Running => Action::NotSelected,
            };
            (s.id.to_string(), action)
        })
        .collect())
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
            let state = if is_running(&project.dir, &s.id) { StageState::Running } else { state_of(&project.dir, s) };
            StageStatus {
                stage: s.id.to_string(),
                state,
                seconds: record.as_ref().map(|r| r.seconds),
                figure: record.and_then(|r| if r.outcome == Outcome::Failed { r.message } else { r.figure }),
            }
        })
        .collect())
}
