//! Each run's loss history: what `train/<run>/trainer_state.json` holds (read on a worker, again
//! whenever the run's stage record changes), joined with the points seen live since. The live
//! points win from the first step they cover, so a resumed run continues its file's curve.

use crate::app::activity::LiveRun;
use crate::app::task::Task;
use crate::engine::eval::diagnose::{loss_reduction_ratios, EvalPoint, Segment, DEFAULT_VAL_TOLERANCE};
use crate::engine::pipeline::plan::paths;
use crate::engine::pipeline::StageStatus;
use crate::engine::train::state::{RunStatus, TrainerState};
use eframe::egui;
use std::collections::BTreeMap;
use std::path::Path;

/// A run's history as drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunCurve {
    /// (step, training loss) per optimiser step.
    pub steps: Vec<[f64; 2]>,
    /// Evaluation points that have a validation loss.
    pub evals: Vec<EvalPoint>,
    /// Steps the run takes in all (0 when unknown).
    pub total_steps: u64,
}

impl RunCurve {
    /// (step, validation loss) of the evaluation points.
    pub fn val_points(&self) -> Vec<[f64; 2]> {
        self.evals.iter().map(|e| [e.step as f64, e.val_loss]).collect()
    }

    /// The loss-reduction ratio per segment between evaluation points.
    pub fn ratios(&self) -> Vec<Segment> {
        loss_reduction_ratios(&self.evals, DEFAULT_VAL_TOLERANCE)
    }

    /// A made-up run of `steps` steps (a falling loss with noise and a few spikes, an evaluation
    /// every `steps / 20`), different per `seed`: the frame-time bench draws these.
    pub fn synthetic(steps: u64, seed: u64) -> Self {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let floor = 0.7 + 0.1 * seed as f64;
        let loss = |t: f64| floor + 2.0 * (-t / (steps as f64 / 5.0)).exp();
        let points = (1..=steps)
            .map(|s| {
                let spike = if s % 997 == 0 { 1.5 } else { 0.0 };
                [s as f64, loss(s as f64) + 0.25 * noise() + spike]
            })
            .collect();
        let every = (steps / 20).max(1);
        let evals = (0..=steps)
            .step_by(every as usize)
            .map(|s| {
                let t = s as f64;
                EvalPoint { step: s, train_loss: loss(t) - 0.1 * t / steps as f64, val_loss: loss(t) + 0.05 * t / steps as f64 }
            })
            .collect();
        Self { steps: points, evals, total_steps: steps }
    }

    /// The file's history continued by the live points: live points replace the file's from the
    /// first step they cover.
    pub fn joined(file: Option<&TrainerState>, live: Option<&LiveRun>) -> Self {
        let mut steps: Vec<[f64; 2]> = file.map(|f| f.log.iter().map(|e| [e.step as f64, e.loss]).collect()).unwrap_or_default();
        let mut evals: Vec<EvalPoint> = file
            .map(|f| {
                f.evals
                    .iter()
                    .filter_map(|e| e.val_loss.map(|v| EvalPoint { step: e.step, train_loss: e.train_loss, val_loss: v }))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(live) = live {
            if let Some(first) = live.steps.first() {
                steps.retain(|p| p[0] < first[0]);
                steps.extend_from_slice(&live.steps);
            }
            if let Some(first) = live.evals.first() {
                evals.retain(|e| e.step < first.0);
                evals.extend(live.evals.iter().map(|&(step, train_loss, val_loss)| EvalPoint { step, train_loss, val_loss }));
            }
        }
        Self { steps, evals, total_steps: file.map_or(0, |f| f.total_steps) }
    }
}

/// What a run's file said the last time it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFile {
    /// The file, `None` when the run has none yet.
    pub state: Option<TrainerState>,
    /// Why it could not be read.
    pub error: Option<String>,
}

impl RunFile {
    /// The run's status in its file.
    pub fn status(&self) -> Option<RunStatus> {
        self.state.as_ref().map(|s| s.status)
    }
}

/// The stage record a file was read for: state, seconds and figure (a new record means new data).
type RecordKey = (String, Option<u64>, Option<String>);

fn record_key(status: &StageStatus) -> RecordKey {
    (format!("{:?}", status.state), status.seconds.map(f64::to_bits), status.figure.clone())
}

/// The runs' files, read on workers.
#[derive(Default)]
pub struct RunFiles {
    /// The last reading per run.
    pub files: BTreeMap<String, RunFile>,
    read_for: BTreeMap<String, RecordKey>,
    reading: Vec<(String, Task<RunFile>)>,
}

impl RunFiles {
    /// Forgets every reading (another project was opened).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Takes in finished readings and starts one for every run whose stage record changed (or
    /// whose live stage just ended: `ended` is the activity's count of ended training stages).
    pub fn refresh(&mut self, project_dir: &Path, statuses: &[StageStatus], ended: u64, ctx: &egui::Context) {
        let mut i = 0;
        while i < self.reading.len() {
            match self.reading[i].1.poll() {
                Some(result) => {
                    let (run, _) = self.reading.remove(i);
                    let file = result.unwrap_or_else(|e| RunFile { state: None, error: Some(e) });
                    self.files.insert(run, file);
                }
                None => i += 1,
            }
        }
        for status in statuses {
            let Some(run) = status.stage.strip_prefix("train:") else { continue };
            let mut key = record_key(status);
            key.0.push_str(&format!("/{ended}"));
            if self.read_for.get(run) == Some(&key) || self.reading.iter().any(|(r, _)| r == run) {
                continue;
            }
            self.read_for.insert(run.to_string(), key);
            let dir = paths::run(project_dir, run);
            let task = Task::spawn("read training state", ctx, move || match TrainerState::read(&dir) {
                Ok(state) => RunFile { state, error: None },
                Err(e) => RunFile { state: None, error: Some(e.to_string()) },
            });
            self.reading.push((run.to_string(), task));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::train::state::{EvalEntry, LogEntry};
    use crate::engine::train::TrainConfig;

    fn file(steps: u64, evals: &[u64]) -> TrainerState {
        TrainerState {
            run: "sub-0".into(),
            status: RunStatus::Cancelled,
            message: None,
            global_step: steps,
            total_steps: 20,
            checkpoint_step: Some(steps),
            train_examples: 10,
            val_examples: 2,
            log: (1..=steps)
                .map(|s| LogEntry { step: s, loss: 3.0 - s as f64 * 0.1, lr: 1e-3, grad_norm: 1.0, tokens_per_s: 1.0 })
                .collect(),
            evals: evals.iter().map(|&s| EvalEntry { step: s, train_loss: 3.0, val_loss: Some(3.1) }).collect(),
            config: TrainConfig::quick(),
        }
    }

    #[test]
    fn a_resumed_run_continues_its_files_curve() {
        let f = file(10, &[0, 5, 10]);
        let live = LiveRun { steps: vec![[11.0, 1.5], [12.0, 1.4]], evals: vec![(12, 1.3, 1.6)], outcome: None };
        let c = RunCurve::joined(Some(&f), Some(&live));
        assert_eq!(c.steps.len(), 12);
        assert_eq!(c.steps[10], [11.0, 1.5]);
        assert_eq!(c.evals.iter().map(|e| e.step).collect::<Vec<_>>(), vec![0, 5, 10, 12]);
        assert_eq!(c.total_steps, 20);
        assert_eq!(c.ratios().len(), 3);
    }

    #[test]
    fn live_points_from_the_start_replace_a_stale_file() {
        let f = file(10, &[0]);
        let live = LiveRun { steps: vec![[1.0, 9.0], [2.0, 8.0]], evals: vec![], outcome: None };
        let c = RunCurve::joined(Some(&f), Some(&live));
        assert_eq!(c.steps, vec![[1.0, 9.0], [2.0, 8.0]]);
        assert_eq!(c.evals.len(), 1, "the file's evaluation stays until live ones arrive");
        assert_eq!(RunCurve::joined(None, None), RunCurve::default());
    }
}
