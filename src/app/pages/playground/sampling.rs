//! The Playground's one set of sampling settings, shared by every model: temperature, top-p,
//! the token budget, the seed and how the prompt is laid out (chat template, Alpaca, raw).

use crate::engine::model::chat::{GenerateRequest, PromptFormat};
use crate::engine::model::generate::SamplingConfig;
use eframe::egui;

/// Tokens generated when the user does not choose.
const DEFAULT_MAX_TOKENS: usize = 128;

/// The sampling settings as the form shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingForm {
    /// 0 is greedy.
    pub temperature: f64,
    /// Nucleus sampling share.
    pub top_p: f64,
    /// Most tokens per answer.
    pub max_new_tokens: usize,
    /// Seed of the sampler (the same for every model, so the answers differ by the model only).
    pub seed: u64,
    /// How the prompt is rendered.
    pub format: PromptFormat,
}

impl Default for SamplingForm {
    fn default() -> Self {
        let d = SamplingConfig::default();
        Self { temperature: d.temperature, top_p: d.top_p, max_new_tokens: DEFAULT_MAX_TOKENS, seed: d.seed, format: PromptFormat::Chat }
    }
}

fn format_name(f: PromptFormat) -> &'static str {
    match f {
        PromptFormat::Chat => "chat template",
        PromptFormat::Alpaca => "Alpaca",
        PromptFormat::Raw => "raw text",
    }
}

impl SamplingForm {
    /// The generation request for `prompt` with these settings.
    pub fn request(&self, prompt: &str) -> GenerateRequest {
        GenerateRequest {
            prompt: prompt.to_string(),
            system: None,
            format: self.format,
            sampling: SamplingConfig {
                max_new_tokens: self.max_new_tokens.max(1),
                temperature: self.temperature,
                top_p: self.top_p,
                seed: self.seed,
                ..SamplingConfig::default()
            },
        }
    }

    /// Draws the settings on one wrapping line.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("temperature");
            ui.add(egui::DragValue::new(&mut self.temperature).range(0.0..=2.0).speed(0.01).max_decimals(2))
                .labelled_by(label.id)
                .on_hover_text("0 always takes the most likely token (greedy)");
            let label = ui.label("top-p");
            ui.add(egui::DragValue::new(&mut self.top_p).range(0.05..=1.0).speed(0.01).max_decimals(2)).labelled_by(label.id);
            let label = ui.label("max new tokens");
            ui.add(egui::DragValue::new(&mut self.max_new_tokens).range(1..=4096)).labelled_by(label.id);
            let label = ui.label("seed");
            ui.add(egui::DragValue::new(&mut self.seed)).labelled_by(label.id);
            let label = ui.label("prompt format");
            egui::ComboBox::from_id_salt("playground-format")
                .selected_text(format_name(self.format))
                .show_ui(ui, |ui| {
                    for f in [PromptFormat::Chat, PromptFormat::Alpaca, PromptFormat::Raw] {
                        ui.selectable_value(&mut self.format, f, format_name(f));
                    }
                })
                .response
                .labelled_by(label.id);
        });
    }
}
