//! "Try it": one prompt answered by the loaded model through the generation stage on a worker,
//! the answer streamed in piece by piece, with a Stop button.

use crate::app::activity::Activity;
use crate::app::task::Job;
use crate::engine::model::chat::{run_generate, GenerateOutcome, GenerateRequest, PromptFormat};
use crate::engine::model::generate::{SamplingConfig, StopReason};
use crate::engine::model::LoadedModel;
use eframe::egui;
use std::sync::{Arc, Mutex};

/// Tokens generated when the user does not choose.
const DEFAULT_MAX_TOKENS: usize = 128;

/// State of the try-it box.
pub struct TryIt {
    /// The prompt field.
    pub prompt: String,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// The prompt being (or last) answered.
    asked: String,
    /// The answer so far, written by the worker as it grows.
    answer: Arc<Mutex<String>>,
    job: Option<Job<Result<GenerateOutcome, String>>>,
    /// How the last answer ended ("12 tokens in 0.8 s ...") or why it failed.
    ended: Option<Result<String, String>>,
}

impl Default for TryIt {
    fn default() -> Self {
        Self { prompt: String::new(), max_tokens: DEFAULT_MAX_TOKENS, asked: String::new(), answer: Arc::default(), job: None, ended: None }
    }
}

/// Why an answer ended, as the end of a sentence.
fn stop_text(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndOfTurn => "the model ended its turn",
        StopReason::StopString => "a stop string appeared",
        StopReason::MaxTokens => "the token limit was reached",
        StopReason::ContextFull => "the context was full",
        StopReason::Cancelled => "it was stopped",
    }
}

impl TryIt {
    /// Whether an answer is being generated.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// The answer so far.
    pub fn answer(&self) -> String {
        self.answer.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Asks the running generation to stop after its current token.
    pub fn stop(&self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    /// Forgets the last answer (another model was loaded).
    pub fn clear(&mut self) {
        self.stop();
        self.job = None;
        self.asked.clear();
        self.answer = Arc::default();
        self.ended = None;
    }

    /// Answers the prompt with `model` on a worker; pieces of text land in the shared answer.
    fn start(&mut self, model: Arc<LoadedModel>, ctx: &egui::Context, activity: &mut Activity) {
        self.asked = self.prompt.trim().to_string();
        self.answer = Arc::default();
        self.ended = None;
        let req = GenerateRequest {
            prompt: self.asked.clone(),
            system: None,
            format: PromptFormat::Chat,
            sampling: SamplingConfig { max_new_tokens: self.max_tokens.max(1), ..SamplingConfig::default() },
        };
        let (answer, repaint) = (Arc::clone(&self.answer), ctx.clone());
        self.job = Some(Job::spawn("generate", ctx, activity, move |sink, cancel| {
            let mut on_text = |piece: &str| {
                if let Ok(mut a) = answer.lock() {
                    a.push_str(piece);
                }
                repaint.request_repaint();
            };
            run_generate(&model, &req, sink, cancel, &mut on_text).map_err(|e| super::loaded::readable_error(&e.to_string()))
        }));
    }

    fn poll(&mut self) {
        let Some(result) = self.job.as_mut().and_then(Job::poll) else { return };
        let stopped = self.job.take().is_some_and(|j| j.is_cancelling());
        self.ended = Some(match result.and_then(|r| r) {
            Ok(o) => {
                let n = o.generation.token_ids.len();
                let rate = if o.seconds > 0.0 { format!(" ({:.1} tokens/s)", n as f64 / o.seconds) } else { String::new() };
                Ok(format!(
                    "{n} tokens in {:.1} s{rate} after a prompt of {} tokens; {}.",
                    o.seconds,
                    o.prompt_tokens,
                    stop_text(o.generation.stop)
                ))
            }
            Err(_) if stopped => Ok("stopped".to_string()),
            Err(e) => Err(e),
        });
    }

    /// Draws the prompt line, the answer and how it ended. Without a model the box is disabled.
    pub fn ui(&mut self, ui: &mut egui::Ui, model: Option<&Arc<LoadedModel>>, activity: &mut Activity) {
        self.poll();
        let running = self.is_running();
        let mut go = false;
        ui.horizontal(|ui| {
            let label = ui.label("Prompt:");
            let field = ui.add_enabled(
                model.is_some() && !running,
                egui::TextEdit::singleline(&mut self.prompt).hint_text("ask the model something").desired_width(420.0),
            );
            let field = field.labelled_by(label.id);
            go |= field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let label = ui.label("max tokens");
            ui.add(egui::DragValue::new(&mut self.max_tokens).range(1..=4096)).labelled_by(label.id);
            let ready = model.is_some() && !running && !self.prompt.trim().is_empty();
            go |= ui.add_enabled(ready, egui::Button::new("Try it")).clicked();
            if running {
                if ui.button("Stop").clicked() {
                    self.stop();
                }
                ui.spinner();
            }
        });
        if go && !running && !self.prompt.trim().is_empty() {
            if let Some(model) = model {
                self.start(Arc::clone(model), ui.ctx(), activity);
            }
        }
        if self.asked.is_empty() {
            let hint = if model.is_some() { "The answer appears here, token by token." } else { "Load a model to try it." };
            ui.label(egui::RichText::new(hint).weak());
            return;
        }
        let answer = self.answer();
        egui::Frame::group(ui.style()).fill(ui.visuals().extreme_bg_color).show(ui, |ui| {
            ui.set_min_width(ui.available_width());
            ui.label(egui::RichText::new(format!("> {}", self.asked)).weak());
            let shown = if answer.is_empty() && self.is_running() { "…".to_string() } else { answer };
            ui.add(egui::Label::new(egui::RichText::new(shown).monospace()).wrap().selectable(true));
        });
        match &self.ended {
            Some(Ok(summary)) => {
                ui.label(egui::RichText::new(summary).weak());
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }
}
