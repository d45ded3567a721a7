//! What the engine is doing, for the log panel and the status bar: the events of every running
//! job, drained each frame within a time budget so a flood of events never stalls a frame.

use crate::engine::job::{Event, EventReceiver, LogLevel};
use eframe::egui;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Log lines kept; older ones are dropped first.
const MAX_LOG_LINES: usize = 20_000;

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Progress and figures.
    Info,
    /// Something the user should know (skipped rows, a fallback).
    Warning,
    /// A stage failed.
    Error,
}

/// One line of the log.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Seconds since the window opened.
    pub seconds: f64,
    /// How serious it is.
    pub severity: Severity,
    /// The job that sent it ("disperse", "load model").
    pub source: String,
    /// The text.
    pub text: String,
}

/// A stage that is running now.
#[derive(Debug, Clone)]
pub struct RunningStage {
    /// Stage name ("embed", "kmeans").
    pub stage: String,
    /// Units done and in all (0 when unknown).
    pub step: u64,
    /// Units in all.
    pub total: u64,
    /// The stage's own short text ("loss 1.92, 812 tok/s").
    pub detail: String,
    started: Instant,
}

impl RunningStage {
    /// Done share in 0..=1, when the total is known.
    pub fn fraction(&self) -> Option<f32> {
        (self.total > 0).then(|| (self.step as f32 / self.total as f32).clamp(0.0, 1.0))
    }

    /// Time left at the rate so far, once a unit is done.
    pub fn eta(&self) -> Option<Duration> {
        if self.total == 0 || self.step == 0 || self.step >= self.total {
            return None;
        }
        let per_unit = self.started.elapsed().as_secs_f64() / self.step as f64;
        Some(Duration::from_secs_f64(per_unit * (self.total - self.step) as f64))
    }

    /// Tokens per second when the stage reports it in its detail ("812 tok/s").
    pub fn tokens_per_second(&self) -> Option<f64> {
        let words: Vec<&str> = self.detail.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        words.windows(2).find(|w| w[1].starts_with("tok/s")).and_then(|w| w[0].parse().ok())
    }
}

/// How a training run's stage last ended, as its events told.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Its stage started and has not ended.
    Running,
    /// It finished.
    Done,
    /// It was stopped (after writing its checkpoint).
    Cancelled,
    /// It failed, with the stage's message.
    Failed(String),
}

/// A training run as seen live through its `Event::Loss` points: nothing is dropped; a point at a
/// step already seen (a run resumed from an earlier checkpoint) replaces what followed it.
#[derive(Debug, Clone, Default)]
pub struct LiveRun {
    /// (step, training loss) per optimiser step.
    pub steps: Vec<[f64; 2]>,
    /// (step, train-slice loss, validation loss) per evaluation with validation rows.
    pub evals: Vec<(u64, f64, f64)>,
    /// How its stage last ended, and the `ended` count of the activity when it did.
    pub outcome: Option<(RunOutcome, u64)>,
}

impl LiveRun {
    fn add(&mut self, step: u64, train: Option<f64>, val: Option<f64>) {
        let x = step as f64;
        match (train, val) {
            (Some(t), Some(v)) => {
                self.evals.retain(|e| e.0 < step);
                self.evals.push((step, t, v));
            }
            // An evaluation without validation rows (at step 0 or right after its step's point).
            (Some(_), None) if step == 0 || self.steps.last().is_some_and(|p| p[0] == x) => {}
            (Some(t), None) => {
                let keep = self.steps.partition_point(|p| p[0] < x);
                self.steps.truncate(keep);
                self.steps.push([x, t]);
            }
            (None, _) => {}
        }
    }
}

/// Events of every job, as the log and the running stages.
pub struct Activity {
    opened: Instant,
    sources: Vec<(String, EventReceiver)>,
    /// The log, oldest first.
    pub log: VecDeque<LogLine>,
    /// Stages running now, outermost first.
    pub running: Vec<RunningStage>,
    /// Training runs seen live, by run name ("vanilla", "sub-0").
    pub runs: BTreeMap<String, LiveRun>,
    /// Training stages ended so far (a clock for [`LiveRun::outcome`]).
    pub ended: u64,
    /// The message of the last error logged, so that the same failure reported by each stage it
    /// passes through (k-means, cluster, run) is logged once.
    last_error: String,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            opened: Instant::now(),
            sources: Vec::new(),
            log: VecDeque::new(),
            running: Vec::new(),
            runs: BTreeMap::new(),
            ended: 0,
            last_error: String::new(),
        }
    }
}

impl Activity {
    /// Follows a job's events; every event asks for a repaint.
    pub fn attach(&mut self, label: &str, events: EventReceiver, ctx: &egui::Context) {
        let ctx = ctx.clone();
        events.set_waker(move |_| ctx.request_repaint());
        self.sources.push((label.to_string(), events));
    }

    /// Adds a line of the window's own (a failed file read, a saved setting). An error that
    /// ends with the last error's message (the same failure passed up by an outer stage) is not
    /// repeated.
    pub fn note(&mut self, severity: Severity, source: &str, text: impl Into<String>) {
        let text = text.into();
        if severity == Severity::Error {
            let root = text.rsplit(": ").next().unwrap_or(&text).to_string();
            if !self.last_error.is_empty() && root == self.last_error {
                return;
            }
            self.last_error = root;
        }
        if self.log.len() >= MAX_LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { seconds: self.opened.elapsed().as_secs_f64(), severity, source: source.to_string(), text });
    }

    /// Takes in waiting events until `budget` is spent. Returns whether any job is still live.
    pub fn drain(&mut self, budget: Duration) -> bool {
        let start = Instant::now();
        let mut i = 0;
        while i < self.sources.len() {
            while start.elapsed() < budget {
                let Some(event) = self.sources[i].1.try_recv() else { break };
                let source = self.sources[i].0.clone();
                self.take(&source, event);
            }
            if self.sources[i].1.is_finished() {
                self.sources.remove(i);
            } else {
                i += 1;
            }
        }
        !self.sources.is_empty()
    }

    fn take(&mut self, source: &str, event: Event) {
        self.follow_run(&event);
        match event {
            Event::StageStarted { stage } => {
                self.running.push(RunningStage { stage, step: 0, total: 0, detail: String::new(), started: Instant::now() })
            }
            Event::Progress { stage, step, total, detail } => {
                if let Some(r) = self.running.iter_mut().rev().find(|r| r.stage == stage) {
                    r.step = step;
                    r.total = total;
                    r.detail = detail;
                }
            }
            Event::Loss { .. } => {}
            Event::Log { level, line } => {
                let severity = if level == LogLevel::Warning { Severity::Warning } else { Severity::Info };
                self.note(severity, source, line);
            }
            Event::StageDone { stage, seconds } => {
                self.end(&stage);
                self.note(Severity::Info, source, format!("{stage}: done in {seconds:.1} s"));
            }
            Event::Cancelled { stage, reason } => {
                self.end(&stage);
                self.note(Severity::Warning, source, format!("{stage}: stopped ({reason})"));
            }
            Event::Failed { stage, message } => {
                self.end(&stage);
                self.note(Severity::Error, source, format!("{stage}: {message}"));
            }
        }
    }

    /// Keeps the loss points and the outcome of training stages (`train RUN`).
    fn follow_run(&mut self, event: &Event) {
        let (stage, outcome) = match event {
            Event::Loss { run, step, train, val } => {
                self.runs.entry(run.clone()).or_default().add(*step, *train, *val);
                return;
            }
            Event::StageStarted { stage } => (stage, RunOutcome::Running),
            Event::StageDone { stage, .. } => (stage, RunOutcome::Done),
            Event::Cancelled { stage, .. } => (stage, RunOutcome::Cancelled),
            Event::Failed { stage, message } => (stage, RunOutcome::Failed(message.clone())),
            _ => return,
        };
        let Some(run) = stage.strip_prefix("train ") else { return };
        if outcome != RunOutcome::Running {
            self.ended += 1;
        }
        self.runs.entry(run.to_string()).or_default().outcome = Some((outcome, self.ended));
    }

    fn end(&mut self, stage: &str) {
        if let Some(i) = self.running.iter().rposition(|r| r.stage == stage) {
            self.running.remove(i);
        }
    }

    /// The innermost running stage: the one the status bar shows.
    pub fn current(&self) -> Option<&RunningStage> {
        self.running.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(run: &str, step: u64, train: f64, val: Option<f64>) -> Event {
        Event::Loss { run: run.into(), step, train: Some(train), val }
    }

    #[test]
    fn loss_events_make_each_runs_curve_and_a_resume_replaces_what_followed_its_step() {
        let mut a = Activity::default();
        a.take("train", Event::StageStarted { stage: "train sub-0".into() });
        a.take("train", loss("sub-0", 0, 3.0, Some(3.2)));
        for step in 1..=4 {
            a.take("train", loss("sub-0", step, 3.0 - step as f64 * 0.1, None));
        }
        a.take("train", loss("sub-0", 4, 2.5, None)); // an evaluation without validation rows
        a.take("train", loss("vanilla", 1, 9.0, None));
        a.take("train", Event::Cancelled { stage: "train sub-0".into(), reason: "stop".into() });
        let run = &a.runs["sub-0"];
        assert_eq!(run.steps.iter().map(|p| p[0]).collect::<Vec<_>>(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(run.evals, vec![(0, 3.0, 3.2)]);
        assert_eq!(run.outcome, Some((RunOutcome::Cancelled, 1)));
        assert_eq!(a.runs["vanilla"].steps, vec![[1.0, 9.0]]);

        // Resumed from a checkpoint at step 2: steps 3 and 4 are taken again.
        a.take("train", loss("sub-0", 3, 1.0, None));
        assert_eq!(a.runs["sub-0"].steps, vec![[1.0, 2.9], [2.0, 2.8], [3.0, 1.0]]);
        a.take("train", Event::Failed { stage: "train sub-0".into(), message: "boom".into() });
        assert_eq!(a.runs["sub-0"].outcome, Some((RunOutcome::Failed("boom".into()), 2)));
    }
}
