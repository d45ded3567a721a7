//! The training queue: which runs the user wants trained, handed to the pipeline as one run of
//! the stages `train:<run>` (the pipeline trains them one per device and goes on past a failed
//! one). Stopping a single run stops the pipeline run (each training writes its checkpoint) and
//! starts it again without the stopped run, so the others resume where they were.

use crate::app::activity::{Activity, RunOutcome};
use crate::app::task::Task;
use crate::app::workspace::Workspace;
use crate::engine::pipeline::plan::paths;
use crate::engine::pipeline::{Project, RunOptions};
use crate::engine::train::checkpoint::CHECKPOINT_DIR;
use crate::engine::train::state::{RunStatus, TrainerState};
use eframe::egui;
use std::path::Path;

/// The label of the page's pipeline runs in the log.
pub const RUN_LABEL: &str = "train";

/// The stage of `run`.
pub fn stage_of(run: &str) -> String {
    format!("train:{run}")
}

/// The runs waiting or training, and the pipeline run that trains them.
#[derive(Default)]
pub struct Queue {
    /// Runs to train, in the order asked.
    pub wanted: Vec<String>,
    /// Runs re-trained from scratch or past a failure (`force`).
    forced: Vec<String>,
    /// The runs of the pipeline run in progress, and the activity's ended count when it began.
    launched: Option<(Vec<String>, u64)>,
    /// Start the wanted runs again once the pipeline run in progress has stopped.
    relaunch: bool,
    /// Runs whose old checkpoint is being set aside before a retry, with why it failed.
    preparing: Vec<(String, Task<Result<(), String>>)>,
    /// Why the last retry could not be prepared.
    pub error: Option<String>,
}

/// Removes the checkpoint of the run in `dir` when a retry cannot continue from it: the run
/// finished (a retry trains it again) or its settings differ from `config` (the trainer refuses
/// such a checkpoint). A failed run with unchanged settings keeps it and goes on from its last
/// good step.
fn prepare_retry(dir: &Path, config: &crate::engine::train::TrainConfig) -> Result<(), String> {
    let state = TrainerState::read(dir).map_err(|e| e.to_string())?;
    let keep = state.is_some_and(|s| s.status != RunStatus::Finished && s.config == *config);
    let checkpoint = dir.join(CHECKPOINT_DIR);
    if !keep && checkpoint.is_dir() {
        std::fs::remove_dir_all(&checkpoint)
            .map_err(|e| format!("could not remove the old checkpoint {}: {e}; delete it by hand and retry", checkpoint.display()))?;
    }
    Ok(())
}

impl Queue {
    /// Whether `run` waits for its turn or trains.
    pub fn contains(&self, run: &str) -> bool {
        self.wanted.iter().any(|r| r == run)
    }

    /// Whether the page's pipeline run is in progress.
    pub fn is_active(&self) -> bool {
        self.launched.is_some()
    }

    /// Adds `runs` to the queue; `force` re-runs them even when done.
    pub fn add(&mut self, runs: &[String], force: bool) {
        for run in runs {
            if !self.contains(run) {
                self.wanted.push(run.clone());
            }
            if force && !self.forced.contains(run) {
                self.forced.push(run.clone());
            }
        }
        if self.launched.as_ref().is_some_and(|(l, _)| runs.iter().any(|r| !l.contains(r))) {
            // A run the pipeline run does not know about: it is added when the run is started
            // again, at once if the pipeline run is stopped for another reason, else when it ends.
            self.relaunch = true;
        }
    }

    /// Trains `run` again (`force`), from scratch unless it failed with the current settings,
    /// in which case it goes on from its last good checkpoint.
    pub fn retry(&mut self, run: &str, project: &Project, ctx: &egui::Context) {
        if self.preparing.iter().any(|(r, _)| r == run) {
            return;
        }
        let (dir, config) = (paths::run(&project.dir, run), project.train.clone());
        self.preparing.push((run.to_string(), Task::spawn("prepare retry", ctx, move || prepare_retry(&dir, &config))));
    }

    /// Whether `run`'s retry is being prepared.
    pub fn is_preparing(&self, run: &str) -> bool {
        self.preparing.iter().any(|(r, _)| r == run)
    }

    fn take_prepared(&mut self) {
        let mut i = 0;
        while i < self.preparing.len() {
            match self.preparing[i].1.poll() {
                Some(result) => {
                    let (run, _) = self.preparing.remove(i);
                    match result.and_then(|r| r) {
                        Ok(()) => {
                            self.error = None;
                            self.add(&[run], true);
                        }
                        Err(e) => self.error = Some(format!("{run}: {e}")),
                    }
                }
                None => i += 1,
            }
        }
    }

    /// Takes `run` out of the queue; when the pipeline run trains it, stops that run (the
    /// training writes its checkpoint) and starts the others again.
    pub fn stop(&mut self, run: &str, workspace: &Workspace) {
        self.wanted.retain(|r| r != run);
        self.forced.retain(|r| r != run);
        if self.launched.as_ref().is_some_and(|(l, _)| l.iter().any(|r| r == run)) {
            self.relaunch = !self.wanted.is_empty();
            workspace.cancel_run();
        }
    }

    /// Empties the queue and stops the pipeline run.
    pub fn stop_all(&mut self, workspace: &Workspace) {
        self.wanted.clear();
        self.forced.clear();
        self.relaunch = false;
        if self.launched.is_some() {
            workspace.cancel_run();
        }
    }

    /// Starts the pipeline run for the wanted runs when none is in progress, and settles the
    /// queue when the page's run has ended. Call once per frame.
    pub fn drive(&mut self, workspace: &mut Workspace, activity: &mut Activity, ctx: &egui::Context) {
        self.take_prepared();
        // Runs that ended in the pipeline run (done or failed) leave the queue as they end (and
        // the pipeline run's list, so that a retry of one of them starts it again).
        if let Some((launched, since)) = &mut self.launched {
            let ended_here = |run: &String| {
                activity
                    .runs
                    .get(run)
                    .and_then(|r| r.outcome.as_ref())
                    .is_some_and(|(outcome, at)| *at > *since && matches!(outcome, RunOutcome::Done | RunOutcome::Failed(_)))
            };
            let ended: Vec<String> = launched.iter().filter(|r| ended_here(r)).cloned().collect();
            launched.retain(|r| !ended.contains(r));
            self.wanted.retain(|r| !ended.contains(r));
            self.forced.retain(|r| self.wanted.contains(r));
        }
        if workspace.running().is_some() {
            return;
        }
        if let Some((launched, _)) = self.launched.take() {
            // A run stopped only to make way keeps its place and resumes from its checkpoint.
            let keep = std::mem::take(&mut self.relaunch);
            self.wanted.retain(|r| keep || !launched.contains(r));
            self.forced.retain(|r| self.wanted.contains(r));
        }
        if self.wanted.is_empty() || workspace.is_saving() || workspace.project().is_none() {
            return;
        }
        let only: Vec<String> = self.wanted.iter().map(|r| stage_of(r)).collect();
        let force: Vec<String> = self.forced.iter().map(|r| stage_of(r)).collect();
        workspace.run_with(RUN_LABEL, RunOptions { only, force, from: None }, ctx, activity);
        if workspace.running().is_some() {
            self.launched = Some((self.wanted.clone(), activity.ended));
        }
    }
}
