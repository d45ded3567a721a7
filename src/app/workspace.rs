//! The open project as the window sees it: `dtm.toml` as last read (or why it could not be read)
//! and every stage's state from the run directory. Nothing here is a second copy of the
//! pipeline's state: it is re-read from disk on a worker after every change and while a run works.
//! Settings are written back through [`set_settings`], pipeline runs go through [`run_project`].

use super::activity::{Activity, Severity};
use super::task::{Job, Task};
use crate::engine::demo::{run_demo, DemoError, DemoRequest};
use crate::engine::pipeline::plan::glob_match;
use crate::engine::pipeline::{
    project_status, run_project, set_settings, PipelineError, Project, RunOptions, RunSummary, StageState, StageStatus,
};
use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often stage states are re-read while a run works.
const REFRESH_WHILE_RUNNING: Duration = Duration::from_secs(2);

/// A reading of the project folder.
struct Reading {
    project: Result<Project, String>,
    statuses: Vec<StageStatus>,
}

fn read(dir: &Path) -> Reading {
    match Project::load(dir) {
        Ok(project) => Reading { statuses: project_status(dir).unwrap_or_default(), project: Ok(project) },
        Err(e) => Reading { project: Err(e.to_string()), statuses: Vec::new() },
    }
}

/// A setting change waiting to be written.
pub type Change = (String, toml_edit::Value);

/// The open project.
#[derive(Default)]
pub struct Workspace {
    /// The project folder, when one is open.
    pub dir: Option<PathBuf>,
    /// The project as last read, or the reason it could not be read (file:line: key: what).
    pub project: Option<Result<Arc<Project>, String>>,
    /// Every stage with its state, as last read.
    pub statuses: Vec<StageStatus>,
    /// Why the last setting change was refused (the file stays as it was).
    pub edit_error: Option<String>,
    /// Bumped each time a new reading arrives, so pages notice changes.
    pub revision: u64,
    reading: Option<Task<Reading>>,
    reread_wanted: bool,
    last_read: Option<Instant>,
    editing: Option<Task<Result<Project, PipelineError>>>,
    queued_changes: Vec<Change>,
    run: Option<Job<Result<RunSummary, PipelineError>>>,
    /// What the last pipeline run ended with, for the page that started it.
    pub last_run: Option<(String, Result<RunSummary, String>)>,
    /// While the demo writes its project, a folder without dtm.toml yet is not an error.
    making_demo: bool,
}

impl Workspace {
    /// Opens the project in `dir` (a folder with a dtm.toml); the reading happens on a worker.
    pub fn open(&mut self, dir: &Path, ctx: &egui::Context) {
        *self = Self { dir: Some(dir.to_path_buf()), ..Self::default() };
        self.reread(ctx);
    }

    /// The project, when it was read without error.
    pub fn project(&self) -> Option<&Arc<Project>> {
        self.project.as_ref().and_then(|p| p.as_ref().ok())
    }

    /// The error that kept the project from being read.
    pub fn load_error(&self) -> Option<&str> {
        self.project.as_ref().and_then(|p| p.as_ref().err()).map(String::as_str)
    }

    /// Whether the folder is being read now.
    pub fn is_reading(&self) -> bool {
        self.reading.is_some()
    }

    /// The project folder's name, for the top bar.
    pub fn name(&self) -> Option<String> {
        let dir = self.dir.as_ref()?;
        let canonical = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        Some(canonical.unwrap_or_else(|| dir.display().to_string()))
    }

    /// Reads the project again (after an outside edit, or a run).
    pub fn reread(&mut self, ctx: &egui::Context) {
        let Some(dir) = self.dir.clone() else { return };
        if self.reading.is_some() {
            self.reread_wanted = true;
            return;
        }
        self.reading = Some(Task::spawn("read project", ctx, move || read(&dir)));
    }

    /// Writes `changes` to dtm.toml (keeping the user's comments), then reads the project again.
    /// A change the file check refuses leaves the file as it was and lands in `edit_error`.
    pub fn set(&mut self, changes: Vec<Change>, ctx: &egui::Context) {
        self.queued_changes.extend(changes);
        self.start_edit(ctx);
    }

    fn start_edit(&mut self, ctx: &egui::Context) {
        let Some(dir) = self.dir.clone() else { return };
        if self.editing.is_some() || self.queued_changes.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut self.queued_changes);
        self.editing = Some(Task::spawn("edit project", ctx, move || set_settings(&dir, &changes)));
    }

    /// Whether setting changes are still being written.
    pub fn is_saving(&self) -> bool {
        self.editing.is_some() || !self.queued_changes.is_empty()
    }

    /// Runs the stages matching `only` on a worker; a selected stage whose input is not done is
    /// skipped as blocked (`plan::with_inputs` adds the inputs). `label` names the run in the log
    /// and the page ("disperse").
    pub fn run(&mut self, label: &str, only: Vec<String>, ctx: &egui::Context, activity: &mut Activity) {
        self.run_with(label, RunOptions { only, ..RunOptions::default() }, ctx, activity);
    }

    /// Runs the pipeline with `opts` (`force` re-runs stages that are done) on a worker, unless a
    /// run is in progress.
    pub fn run_with(&mut self, label: &str, opts: RunOptions, ctx: &egui::Context, activity: &mut Activity) {
        let Some(dir) = self.dir.clone() else { return };
        if self.run.is_some() {
            return;
        }
        self.last_run = None;
        self.run = Some(Job::spawn(label, ctx, activity, move |sink, cancel| run_project(&dir, &opts, sink, cancel)));
        self.reread(ctx);
    }

    /// Makes the teaching demo's project in `req.dir` (base model, data, benchmarks, dtm.toml),
    /// opens it and runs every stage on a worker, then writes its summary (`report/demo.md`);
    /// the stages show up as the folder is re-read, like any run.
    pub fn run_demo(&mut self, req: DemoRequest, ctx: &egui::Context, activity: &mut Activity) {
        if self.run.is_some() {
            return;
        }
        *self = Self { dir: Some(req.dir.clone()), making_demo: true, ..Self::default() };
        self.run = Some(Job::spawn("demo", ctx, activity, move |sink, cancel| {
            run_demo(&req, sink, cancel).map(|(run, _)| run).map_err(|e| match e {
                DemoError::Pipeline(p) => p,
                DemoError::Cancelled(c) => PipelineError::Cancelled(c),
                other => PipelineError::Stage(other.to_string()),
            })
        }));
    }

    /// The label of the pipeline run in progress.
    pub fn running(&self) -> Option<&str> {
        self.run.as_ref().map(|j| j.label.as_str())
    }

    /// Asks the pipeline run to stop; finished stages stay done.
    pub fn cancel_run(&self) {
        if let Some(job) = &self.run {
            job.cancel();
        }
    }

    /// Takes in finished readings, edits and runs. Call once per frame.
    pub fn poll(&mut self, ctx: &egui::Context, activity: &mut Activity) {
        if let Some(result) = self.reading.as_mut().and_then(Task::poll) {
            self.reading = None;
            self.last_read = Some(Instant::now());
            match result {
                Ok(reading) => {
                    self.project = Some(reading.project.map(Arc::new));
                    self.statuses = reading.statuses;
                }
                Err(e) => self.project = Some(Err(e)),
            }
            match &self.project {
                Some(Err(_)) if self.making_demo && self.run.is_some() => {}
                Some(Err(e)) => activity.note(Severity::Error, "project", e.clone()),
                _ => self.making_demo = false,
            }
            self.revision += 1;
            if std::mem::take(&mut self.reread_wanted) {
                self.reread(ctx);
            }
        }
        if let Some(result) = self.editing.as_mut().and_then(Task::poll) {
            self.editing = None;
            match result.and_then(|r| r.map_err(|e| e.to_string())) {
                Ok(_) => {
                    self.edit_error = None;
                    activity.note(Severity::Info, "project", "settings saved to dtm.toml");
                }
                Err(e) => {
                    activity.note(Severity::Error, "project", e.clone());
                    self.edit_error = Some(e);
                }
            }
            self.reread(ctx);
            self.start_edit(ctx);
        }
        if let Some(result) = self.run.as_mut().and_then(Job::poll) {
            let label = self.run.take().map(|j| j.label).unwrap_or_default();
            let result = result.and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(e) = &result {
                activity.note(Severity::Error, &label, e.clone());
            }
            self.last_run = Some((label, result));
            self.reread(ctx);
        }
        if self.run.is_some() && self.last_read.is_none_or(|t| t.elapsed() > REFRESH_WHILE_RUNNING) {
            self.reread(ctx);
        }
        if self.run.is_some() {
            ctx.request_repaint_after(REFRESH_WHILE_RUNNING);
        }
    }

    /// The combined state of the stages matching `patterns`: running, failed or stale when any
    /// is, done when all are, `None` when no stage matches or none has started.
    pub fn state_of(&self, patterns: &[&str]) -> Option<StageState> {
        let states: Vec<StageState> =
            self.statuses.iter().filter(|s| patterns.iter().any(|p| glob_match(p, &s.stage))).map(|s| s.state).collect();
        if states.is_empty() {
            return None;
        }
        for wanted in [StageState::Running, StageState::Failed, StageState::Stale] {
            if states.contains(&wanted) {
                return Some(wanted);
            }
        }
        if states.iter().all(|s| *s == StageState::Done) {
            Some(StageState::Done)
        } else {
            Some(StageState::Pending)
        }
    }

    /// The recorded status of one stage.
    pub fn status(&self, stage: &str) -> Option<&StageStatus> {
        self.statuses.iter().find(|s| s.stage == stage)
    }
}
