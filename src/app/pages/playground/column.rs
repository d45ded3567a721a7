//! One model's column in the Playground: the model (with its adapter) loaded on its own worker
//! the first time it is asked and kept for the next prompt, the answer streamed in, how loading
//! goes, and the answer's tokens and tokens per second.

use crate::app::activity::Activity;
use crate::app::pages::model::loaded::readable_error;
use crate::app::task::Job;
use crate::engine::device::{open_device, DeviceRequest};
use crate::engine::job::{CancelToken, Event, EventSink};
use crate::engine::model::chat::{run_generate, GenerateOutcome, GenerateRequest};
use crate::engine::model::{load_model_stage, LoadOptions, LoadRequest, LoadedModel};
use candle_core::DType;
use eframe::egui::{self, RichText};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Which weights a column runs: the model, its adapter, the device and dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// A model path or cached HF id.
    pub model: String,
    /// The LoRA adapter folded in, if any.
    pub adapter: Option<PathBuf>,
    /// Where it runs.
    pub device: DeviceRequest,
    /// Working dtype (`None`: the device's default).
    pub dtype: Option<DType>,
}

/// What the column's worker is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Nothing.
    Idle,
    /// Loading the model: tensors read of all.
    Loading(u64, u64),
    /// Generating.
    Generating,
}

/// What a worker hands back: the model it loaded (to keep) and the answer's outcome.
type Outcome = (Option<Arc<LoadedModel>>, Result<GenerateOutcome, String>);

/// How an answer ended, in figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Tokens generated.
    pub tokens: usize,
    /// Seconds of decoding.
    pub seconds: f64,
}

impl Figures {
    /// Tokens per second (0 when no time passed).
    pub fn tokens_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.tokens as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One model's column.
pub struct Column {
    /// The model's label (base, vanilla, sub-N or a merge name).
    pub label: String,
    model: Option<(Source, Arc<LoadedModel>)>,
    answer: Arc<Mutex<String>>,
    phase: Arc<Mutex<Phase>>,
    job: Option<Job<Outcome>>,
    /// How the last answer ended: its figures, or why it failed.
    pub ended: Option<Result<Figures, String>>,
    /// The weights being loaded by the worker, kept with the model once it is loaded.
    asked: Option<Source>,
    stopped: bool,
}

/// `text` with every character the monospace font cannot draw (a half token's U+FFFD, a script
/// the built-in fonts lack) written as `?`, so that any answer can be shown.
pub fn printable(ctx: &egui::Context, text: &str) -> String {
    let font = egui::FontId::monospace(12.0);
    ctx.fonts_mut(|f| text.chars().map(|c| if c.is_whitespace() || f.has_glyph(&font, c) { c } else { '?' }).collect())
}

/// Loads `source`, passing the loading progress to `phase` and every event on to `sink`.
fn load(source: &Source, sink: &EventSink, cancel: &CancelToken, phase: &Arc<Mutex<Phase>>) -> Result<LoadedModel, String> {
    let device = open_device(source.device).map_err(|e| readable_error(&e.to_string()))?;
    let req = LoadRequest {
        model: source.model.clone(),
        options: LoadOptions { device, dtype: source.dtype, adapter: source.adapter.clone(), ..Default::default() },
    };
    let (inner, events) = EventSink::channel();
    let (outer, shown) = (sink.clone(), Arc::clone(phase));
    events.set_waker(move |e| {
        if let Event::Progress { step, total, .. } = e {
            if let Ok(mut p) = shown.lock() {
                *p = Phase::Loading(*step, *total);
            }
        }
        outer.send(e.clone());
    });
    let loaded = load_model_stage(&req, &inner, cancel).map_err(|e| readable_error(&e.to_string()));
    drop(events);
    loaded
}

impl Column {
    /// An empty column for `label`.
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_string(),
            model: None,
            answer: Arc::default(),
            phase: Arc::new(Mutex::new(Phase::Idle)),
            job: None,
            ended: None,
            asked: None,
            stopped: false,
        }
    }

    /// Whether its worker is loading or generating.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Whether its model is loaded (and kept for the next prompt).
    pub fn is_loaded(&self) -> bool {
        self.model.is_some()
    }

    /// The answer so far.
    pub fn answer(&self) -> String {
        self.answer.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// What the worker is doing now.
    pub fn phase(&self) -> Phase {
        if self.job.is_none() {
            return Phase::Idle;
        }
        self.phase.lock().map(|p| *p).unwrap_or(Phase::Idle)
    }

    /// Asks the worker to stop (between tensors while loading, after a token while generating).
    pub fn stop(&mut self) {
        if let Some(job) = &self.job {
            job.cancel();
            self.stopped = true;
        }
    }

    /// Answers `req` with the model of `source` on a worker, loading it first unless the
    /// column already holds it.
    pub fn start(&mut self, source: Source, req: GenerateRequest, ctx: &egui::Context, activity: &mut Activity) {
        if self.job.is_some() {
            return;
        }
        let kept = self.model.as_ref().filter(|(s, _)| *s == source).map(|(_, m)| Arc::clone(m));
        if kept.is_none() {
            self.model = None;
        }
        let wanted = source.clone();
        self.answer = Arc::default();
        self.ended = None;
        self.stopped = false;
        self.phase = Arc::new(Mutex::new(if kept.is_some() { Phase::Generating } else { Phase::Loading(0, 0) }));
        let (answer, phase, repaint) = (Arc::clone(&self.answer), Arc::clone(&self.phase), ctx.clone());
        let label = format!("playground {}", self.label);
        self.job = Some(Job::spawn(&label, ctx, activity, move |sink, cancel| {
            let (model, fresh) = match kept {
                Some(m) => (m, false),
                None => match load(&source, sink, cancel, &phase) {
                    Ok(m) => (Arc::new(m), true),
                    Err(e) => return (None, Err(format!("Could not load {}: {e}", source.model))),
                },
            };
            if let Ok(mut p) = phase.lock() {
                *p = Phase::Generating;
            }
            let mut on_text = |piece: &str| {
                if let Ok(mut a) = answer.lock() {
                    a.push_str(piece);
                }
                repaint.request_repaint();
            };
            let outcome = run_generate(&model, &req, sink, cancel, &mut on_text).map_err(|e| readable_error(&e.to_string()));
            (fresh.then_some(model), outcome)
        }));
        self.asked = Some(wanted);
    }

    /// Takes in the worker's result: keeps a freshly loaded model, records how the answer ended.
    pub fn poll(&mut self) {
        let Some(result) = self.job.as_mut().and_then(Job::poll) else { return };
        self.job = None;
        let (loaded, outcome) = match result {
            Ok(r) => r,
            Err(e) => (None, Err(e)),
        };
        if let (Some(m), Some(source)) = (loaded, self.asked.take()) {
            self.model = Some((source, m));
        }
        self.ended = Some(match outcome {
            Ok(o) => {
                // The streamed pieces may have cut a character in two; the final text is exact.
                if let Ok(mut a) = self.answer.lock() {
                    *a = o.generation.text.clone();
                }
                Ok(Figures { tokens: o.generation.token_ids.len(), seconds: o.seconds })
            }
            Err(_) if self.stopped => Err("stopped".into()),
            Err(e) => Err(e),
        });
    }

    /// Draws the column: its model, loading progress, the answer and its figures.
    pub fn ui(&mut self, ui: &mut egui::Ui, colour: egui::Color32) {
        self.poll();
        ui.horizontal(|ui| {
            ui.label(RichText::new(&self.label).strong().color(colour));
            if self.is_loaded() {
                ui.label(RichText::new("loaded").weak().small());
            }
        });
        match self.phase() {
            Phase::Loading(done, total) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("loading the model");
                });
                if total > 0 {
                    let bar = egui::ProgressBar::new(done as f32 / total as f32).text(format!("{done} / {total} tensors"));
                    ui.add(bar);
                }
            }
            Phase::Generating => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("answering");
                });
            }
            Phase::Idle => {}
        }
        let answer = self.answer();
        egui::Frame::group(ui.style()).fill(ui.visuals().extreme_bg_color).show(ui, |ui| {
            ui.set_min_width(ui.available_width());
            ui.set_min_height(80.0);
            let text = if answer.is_empty() && self.ended.is_none() { "...".to_string() } else { printable(ui.ctx(), &answer) };
            ui.add(egui::Label::new(RichText::new(text).monospace()).wrap().selectable(true));
        });
        match &self.ended {
            Some(Ok(f)) => {
                ui.label(RichText::new(format!("{} tokens in {:.2} s, {:.1} tokens/s", f.tokens, f.seconds, f.tokens_per_second())).weak());
            }
            Some(Err(e)) if e == "stopped" => {
                ui.label(RichText::new("stopped").weak());
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }
}
