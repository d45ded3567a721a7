//! The live preview's work, all off the UI thread: opening the preview (base, adapters, rows),
//! the reference figures (once), and the scoring of the settings on show, debounced and
//! cancelled when superseded. A sweep scores a grid along one weight in the same slot. Figures
//! arrive on a channel as each is known and are drained every frame.

use crate::app::task::Task;
use crate::engine::job::CancelToken;
use crate::engine::merge::preview::{Accuracy, ReferenceScores};
use crate::engine::merge::{MergePreview, MergeSpec, PreviewUpdate};
use crossbeam_channel::{unbounded, Receiver, Sender};
use eframe::egui;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Quiet time after the last change before a preview starts.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// The figures of one setting, filled in as they arrive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveScores {
    /// Loss per portion (`None` until known).
    pub portion_loss: Vec<Option<f64>>,
    /// Benchmark subset accuracy over the items scored so far.
    pub bench: Option<Accuracy>,
    /// Whether every figure is in.
    pub complete: bool,
}

impl LiveScores {
    fn apply(&mut self, u: &PreviewUpdate) {
        match u {
            PreviewUpdate::Portion { portion, loss } => {
                if self.portion_loss.len() <= *portion {
                    self.portion_loss.resize(portion + 1, None);
                }
                self.portion_loss[*portion] = Some(*loss);
            }
            PreviewUpdate::Bench(a) => self.bench = Some(*a),
        }
    }

    /// Mean of the portion losses, once all are known.
    pub fn mean_loss(&self) -> Option<f64> {
        let known: Vec<f64> = self.portion_loss.iter().flatten().copied().collect();
        (!known.is_empty() && known.len() == self.portion_loss.len()).then(|| known.iter().sum::<f64>() / known.len() as f64)
    }
}

/// One setting scored: the weights and what they scored.
#[derive(Debug, Clone, PartialEq)]
pub struct TriedPoint {
    /// The weights as set.
    pub weights: Vec<f64>,
    /// Each weight's share of the sum.
    pub shares: Vec<f64>,
    /// Mean held-out loss over the portions.
    pub mean_loss: f64,
    /// Benchmark subset accuracy.
    pub acc: Option<f64>,
    /// Whether a sweep scored it.
    pub from_sweep: bool,
}

enum Msg {
    Update { job: u64, update: PreviewUpdate },
    Done { job: u64, result: Result<(), String> },
    SweepPoint { job: u64, point: TriedPoint },
    Reference { label: String, update: PreviewUpdate },
    References(Result<Vec<ReferenceScores>, String>),
}

/// The preview's state on the page.
pub struct Live {
    /// The opened preview.
    pub preview: Option<Arc<MergePreview>>,
    opening: Option<Task<Result<MergePreview, String>>>,
    /// Why the preview could not be opened.
    pub open_error: Option<String>,
    /// The figures of the settings on show.
    pub current: LiveScores,
    /// The reference figures as they arrive (base, sub-N, vanilla).
    pub references: Vec<ReferenceScores>,
    /// Whether the references are complete.
    pub references_done: bool,
    /// Every setting scored, in order.
    pub points: Vec<TriedPoint>,
    /// Why the last preview failed.
    pub error: Option<String>,
    /// The sweep's sub-model, while a sweep runs.
    pub sweeping: Option<usize>,
    changed_at: Option<(Instant, MergeSpec, Vec<f64>)>,
    job: u64,
    running: Option<(u64, CancelToken, Vec<f64>)>,
    reference_cancel: Option<CancelToken>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
}

impl Default for Live {
    fn default() -> Self {
        let (tx, rx) = unbounded();
        Self {
            preview: None,
            opening: None,
            open_error: None,
            current: LiveScores::default(),
            references: Vec::new(),
            references_done: false,
            points: Vec::new(),
            error: None,
            sweeping: None,
            changed_at: None,
            job: 0,
            running: None,
            reference_cancel: None,
            tx,
            rx,
        }
    }
}

fn spawn(name: &str, ctx: &egui::Context, work: impl FnOnce() + Send + 'static) {
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        work();
        ctx.request_repaint();
    });
    if let Err(e) = spawned {
        tracing::error!("could not start a worker thread for {name}: {e}");
    }
}

impl Live {
    /// Starts opening a preview with `open` on a worker (a previous one is dropped).
    pub fn open(&mut self, ctx: &egui::Context, open: impl FnOnce() -> Result<MergePreview, String> + Send + 'static) {
        self.stop();
        *self = Self::default();
        self.opening = Some(Task::spawn("open merge preview", ctx, open));
    }

    /// Whether the preview is being opened.
    pub fn is_opening(&self) -> bool {
        self.opening.is_some()
    }

    /// Whether a preview or a sweep is scoring now.
    pub fn is_scoring(&self) -> bool {
        self.running.is_some()
    }

    /// Stops every job.
    pub fn stop(&mut self) {
        if let Some((_, c, _)) = self.running.take() {
            c.cancel("superseded");
        }
        if let Some(c) = self.reference_cancel.take() {
            c.cancel("the preview closed");
        }
        self.sweeping = None;
    }

    /// Notes new settings: their preview starts once nothing changed for [`DEBOUNCE`].
    pub fn changed(&mut self, spec: MergeSpec, weights: Vec<f64>) {
        self.changed_at = Some((Instant::now(), spec, weights));
    }

    /// Scores `spec` now, cancelling the preview or sweep in progress.
    pub fn start(&mut self, ctx: &egui::Context, spec: MergeSpec, weights: Vec<f64>) {
        let Some(preview) = self.preview.clone() else { return };
        if let Some((_, c, _)) = self.running.take() {
            c.cancel("superseded");
        }
        self.sweeping = None;
        self.job += 1;
        let (job, cancel, tx) = (self.job, CancelToken::new(), self.tx.clone());
        self.running = Some((job, cancel.clone(), weights));
        self.current = LiveScores { portion_loss: vec![None; preview.k()], ..LiveScores::default() };
        self.error = None;
        spawn("merge preview", ctx, move || {
            let result = preview.score(&spec, &cancel, &mut |u| {
                let _ = tx.send(Msg::Update { job, update: u.clone() });
            });
            let _ = tx.send(Msg::Done { job, result: result.map(drop).map_err(|e| e.to_string()) });
        });
    }

    /// Scores `grid` (weight vectors, with `shares` of the swept sub-model) one after another,
    /// cancelling the preview in progress; each point lands in [`Self::points`].
    pub fn sweep(&mut self, ctx: &egui::Context, selected: usize, grid: Vec<(MergeSpec, Vec<f64>, Vec<f64>)>) {
        let Some(preview) = self.preview.clone() else { return };
        if let Some((_, c, _)) = self.running.take() {
            c.cancel("superseded");
        }
        self.changed_at = None;
        self.job += 1;
        let (job, cancel, tx) = (self.job, CancelToken::new(), self.tx.clone());
        self.running = Some((job, cancel.clone(), Vec::new()));
        self.sweeping = Some(selected);
        let repaint = ctx.clone();
        spawn("merge sweep", ctx, move || {
            for (spec, weights, shares) in grid {
                match preview.score(&spec, &cancel, &mut |_| {}) {
                    Ok(s) => {
                        let known: Vec<f64> = s.portion_loss.iter().flatten().copied().collect();
                        let mean_loss = known.iter().sum::<f64>() / known.len().max(1) as f64;
                        let point = TriedPoint { weights, shares, mean_loss, acc: s.bench.map(|b| b.acc), from_sweep: true };
                        let _ = tx.send(Msg::SweepPoint { job, point });
                        repaint.request_repaint();
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Done { job, result: Err(e.to_string()) });
                        return;
                    }
                }
            }
            let _ = tx.send(Msg::Done { job, result: Ok(()) });
        });
    }

    /// Cancels the sweep in progress.
    pub fn cancel_sweep(&mut self) {
        if self.sweeping.take().is_some() {
            if let Some((_, c, _)) = self.running.take() {
                c.cancel("sweep stopped");
            }
        }
    }

    fn start_references(&mut self, ctx: &egui::Context) {
        let Some(preview) = self.preview.clone() else { return };
        let (cancel, tx) = (CancelToken::new(), self.tx.clone());
        self.reference_cancel = Some(cancel.clone());
        let repaint = ctx.clone();
        spawn("merge references", ctx, move || {
            let result = preview.references(&cancel, &mut |label, u| {
                let _ = tx.send(Msg::Reference { label: label.to_string(), update: u.clone() });
                repaint.request_repaint();
            });
            let _ = tx.send(Msg::References(result.map_err(|e| e.to_string())));
        });
    }

    /// Takes in what the workers sent and starts a preview once the settings are quiet. Call
    /// once per frame.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(result) = self.opening.as_mut().and_then(Task::poll) {
            self.opening = None;
            match result.and_then(|r| r) {
                Ok(p) => {
                    self.preview = Some(Arc::new(p));
                    self.start_references(ctx);
                }
                Err(e) => self.open_error = Some(e),
            }
        }
        while let Ok(msg) = self.rx.try_recv() {
            self.take(msg);
        }
        if let Some((at, _, _)) = &self.changed_at {
            let quiet = at.elapsed();
            if quiet >= DEBOUNCE && self.preview.is_some() {
                if let Some((_, spec, weights)) = self.changed_at.take() {
                    self.start(ctx, spec, weights);
                }
            } else {
                ctx.request_repaint_after(DEBOUNCE.saturating_sub(quiet));
            }
        }
    }

    fn take(&mut self, msg: Msg) {
        let current = self.running.as_ref().map(|r| r.0);
        match msg {
            Msg::Update { job, update } if Some(job) == current => self.current.apply(&update),
            Msg::Done { job, result } if Some(job) == current => {
                let weights = self.running.take().map(|r| r.2).unwrap_or_default();
                self.sweeping = None;
                match result {
                    Ok(()) if !weights.is_empty() => {
                        self.current.complete = true;
                        if let Some(mean_loss) = self.current.mean_loss() {
                            let sum: f64 = weights.iter().sum();
                            let shares = weights.iter().map(|w| if sum.abs() > 1e-12 { w / sum } else { 0.0 }).collect();
                            let acc = self.current.bench.map(|b| b.acc);
                            self.points.push(TriedPoint { weights, shares, mean_loss, acc, from_sweep: false });
                        }
                    }
                    Ok(()) => {}
                    Err(e) if e.contains("cancelled") => {}
                    Err(e) => self.error = Some(e),
                }
            }
            Msg::SweepPoint { job, point } if Some(job) == current => self.points.push(point),
            Msg::Reference { label, update } => {
                if self.references.last().is_none_or(|r| r.label != label) {
                    self.references.push(ReferenceScores { label: label.clone(), scores: Default::default() });
                }
                if let Some(r) = self.references.last_mut() {
                    let mut live = LiveScores { portion_loss: r.scores.portion_loss.clone(), bench: r.scores.bench, complete: false };
                    live.apply(&update);
                    r.scores.portion_loss = live.portion_loss;
                    r.scores.bench = live.bench;
                }
            }
            Msg::References(Ok(all)) => {
                self.references = all;
                self.references_done = true;
                self.reference_cancel = None;
            }
            Msg::References(Err(e)) => {
                self.reference_cancel = None;
                if !e.contains("cancelled") {
                    self.error = Some(format!("reference figures: {e}"));
                }
            }
            _ => {}
        }
    }
}
