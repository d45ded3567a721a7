//! The queue table: one row per run (vanilla and the sub-models) with its state, progress, time
//! left, speed and buttons, and under it why each failed run failed and what to change.

use super::advice::advice;
use super::curves::RunFile;
use super::queue::Queue;
use crate::app::activity::{RunOutcome, RunningStage};
use crate::engine::pipeline::{StageState, StageStatus};
use crate::engine::train::state::RunStatus;
use eframe::egui::{self, Color32, RichText};

/// Everything a row shows about one run.
pub struct RunView<'a> {
    /// Run name ("vanilla", "sub-0").
    pub run: &'a str,
    /// Its curve colour.
    pub color: Color32,
    /// Its stage's recorded status.
    pub status: &'a StageStatus,
    /// Its `trainer_state.json`, as last read.
    pub file: Option<&'a RunFile>,
    /// How its stage last ended in this window.
    pub outcome: Option<&'a RunOutcome>,
    /// Its stage while it trains.
    pub running: Option<&'a RunningStage>,
}

/// What the user can do with a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    /// Queue it.
    Start,
    /// Stop it (it writes a checkpoint) or take it out of the queue.
    Stop,
    /// Queue a stopped run; it goes on from its checkpoint.
    Resume,
    /// Train it again (a failed, finished or changed run).
    Retry,
}

impl RunView<'_> {
    fn file_status(&self) -> Option<RunStatus> {
        self.file.and_then(RunFile::status)
    }

    fn checkpoint_step(&self) -> Option<u64> {
        self.file.and_then(|f| f.state.as_ref()).and_then(|s| s.checkpoint_step)
    }

    /// Whether the run failed: its record or its file says so and it is not training again.
    pub fn failure(&self) -> Option<String> {
        if self.running.is_some() {
            return None;
        }
        if let Some(RunOutcome::Failed(m)) = self.outcome {
            return Some(m.clone());
        }
        if self.status.state == StageState::Failed {
            return Some(self.status.figure.clone().unwrap_or_else(|| "the stage failed (no message recorded)".into()));
        }
        let state = self.file.and_then(|f| f.state.as_ref())?;
        (state.status == RunStatus::Failed && self.status.state != StageState::Done)
            .then(|| state.message.clone().unwrap_or_else(|| "the run failed".into()))
    }

    /// Whether the run is done: its record says so, or its stage finished in this window (the
    /// records are read again when the pipeline run ends).
    fn is_done(&self) -> bool {
        self.status.state == StageState::Done || matches!(self.outcome, Some(RunOutcome::Done))
    }

    /// The state in words.
    pub fn state_text(&self, queue: &Queue) -> String {
        if let Some(r) = self.running {
            return if r.detail.starts_with("evaluating") {
                "evaluating".into()
            } else if r.total == 0 {
                "loading".into()
            } else {
                "training".into()
            };
        }
        if queue.is_preparing(self.run) {
            return "preparing the retry".into();
        }
        if queue.contains(self.run) {
            return "queued".into();
        }
        if self.failure().is_some() {
            return "failed".into();
        }
        if self.is_done() {
            return "done".into();
        }
        match (self.status.state, self.file_status()) {
            (StageState::Running, _) => "training in another process".into(),
            (_, Some(RunStatus::Cancelled)) => match self.checkpoint_step() {
                Some(step) => format!("stopped at step {step}"),
                None => "stopped".into(),
            },
            (_, Some(RunStatus::Running)) => "interrupted".into(),
            (StageState::Stale, _) => "stale: settings changed".into(),
            _ => "not started".into(),
        }
    }

    /// Steps done and in all: live while it trains, else from its file.
    pub fn steps(&self) -> (u64, u64) {
        if let Some(r) = self.running.filter(|r| r.total > 0) {
            return (r.step, r.total);
        }
        match self.file.and_then(|f| f.state.as_ref()) {
            Some(s) => (s.global_step, s.total_steps),
            None => (0, 0),
        }
    }

    /// The button the row offers besides Stop.
    pub fn action(&self, queue: &Queue) -> RowAction {
        if self.running.is_some() || queue.contains(self.run) || queue.is_preparing(self.run) {
            return RowAction::Stop;
        }
        if self.failure().is_some() || self.is_done() {
            return RowAction::Retry;
        }
        match (self.status.state, self.file_status()) {
            (StageState::Stale, _) => RowAction::Retry,
            (_, Some(RunStatus::Cancelled | RunStatus::Running)) => RowAction::Resume,
            _ => RowAction::Start,
        }
    }
}

fn duration_text(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// Draws the table; returns the button pressed, with its run.
pub fn rows_ui(ui: &mut egui::Ui, views: &[RunView<'_>], queue: &Queue) -> Option<(String, RowAction)> {
    let mut pressed = None;
    egui::Grid::new("train-queue").num_columns(7).striped(true).spacing([14.0, 6.0]).show(ui, |ui| {
        for header in ["Run", "State", "Progress", "Steps", "Time left", "Speed", ""] {
            ui.label(RichText::new(header).strong());
        }
        ui.end_row();
        for v in views {
            ui.label(RichText::new(v.run).color(v.color).strong().monospace());
            let state = v.state_text(queue);
            let color = match state.as_str() {
                "failed" => ui.visuals().error_fg_color,
                "done" => Color32::from_rgb(40, 160, 80),
                "training" | "evaluating" | "loading" => Color32::from_rgb(60, 140, 230),
                _ => ui.visuals().text_color(),
            };
            // A fixed width, so that the columns do not move as states change.
            ui.horizontal(|ui| {
                ui.set_min_width(170.0);
                ui.label(RichText::new(&state).color(color)).on_hover_text(format!("stage train:{}", v.run));
            });
            let (step, total) = v.steps();
            let fraction = if v.is_done() {
                1.0
            } else if total > 0 {
                step as f32 / total as f32
            } else {
                0.0
            };
            ui.add(egui::ProgressBar::new(fraction.clamp(0.0, 1.0)).desired_width(180.0).show_percentage())
                .accessible_name(format!("{} progress", v.run));
            ui.label(if total > 0 { format!("{step} / {total}") } else { String::new() });
            let eta = v.running.and_then(RunningStage::eta).map(|d| duration_text(d.as_secs_f64()));
            ui.label(eta.unwrap_or_default());
            let speed = v.running.and_then(RunningStage::tokens_per_second).map(|t| format!("{t:.0} tok/s"));
            ui.label(speed.unwrap_or_default());
            let action = v.action(queue);
            let (word, tip) = match action {
                RowAction::Start => ("Start", "Queue this run; it trains when the runs before it are done"),
                RowAction::Stop => ("Stop", "Stop this run: it writes a checkpoint first, and Resume goes on from there"),
                RowAction::Resume => ("Resume", "Go on from the last checkpoint"),
                RowAction::Retry if v.failure().is_some() => {
                    ("Retry", "Train again with the current settings (from the last good checkpoint when they did not change)")
                }
                RowAction::Retry => ("Train again", "Train this run again from the start with the current settings"),
            };
            // An id of its own, so that the button stays the same widget (for AccessKit and screen
            // readers) while the widgets before it come and go as runs report.
            let clicked = ui
                .push_id(("run action", v.run), |ui| {
                    ui.button(word).accessible_name(format!("{word} {}", v.run)).on_hover_text(tip).clicked()
                })
                .inner;
            if clicked {
                pressed = Some((v.run.to_string(), action));
            }
            ui.end_row();
        }
    });
    for v in views {
        if let Some(message) = v.failure() {
            ui.add_space(4.0);
            ui.colored_label(ui.visuals().error_fg_color, format!("{} failed: {message}", v.run));
            if let Some(what) = advice(&message) {
                ui.label(RichText::new(format!("What to change: {what}")).italics());
            }
        }
    }
    pressed
}
