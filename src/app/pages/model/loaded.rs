//! A model loaded for the page: the loading stage run on a worker, and everything the page shows
//! about the model, computed there too (description, the chat template rendered on an example
//! conversation), so the UI thread only draws.

use crate::engine::data::chat_template::ChatMessage;
use crate::engine::device::{open_device, DeviceRequest};
use crate::engine::job::{CancelToken, EventSink};
use crate::engine::model::describe::describe_model;
use crate::engine::model::{load_model_stage, LoadOptions, LoadRequest, LoadedModel, ModelConfig};
use candle_core::DType;
use std::path::Path;
use std::sync::Arc;

/// Characters of the chat template kept in the description rows (the page shows the whole
/// template separately).
const TEMPLATE_ROW_CHARS: usize = 120;

/// The conversation the chat template is rendered on.
pub fn example_conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("user", "What is the capital of France?"),
        ChatMessage::new("assistant", "The capital of France is Paris."),
        ChatMessage::new("user", "And of Italy?"),
    ]
}

/// A loaded model and what the page shows about it.
pub struct ModelView {
    /// The model as the user named it (a path, or a cached HF id).
    pub requested: String,
    /// The value for `model.path` in `dtm.toml`: the absolute path when the model is a file or
    /// folder, else the HF id.
    pub setting: String,
    /// The model, loaded once; generations share it.
    pub model: Arc<LoadedModel>,
    /// Label/value rows (architecture, parameters, dtypes, context, vocabulary, ...).
    pub rows: Vec<(&'static str, String)>,
    /// The model's own Jinja chat template, when it ships one.
    pub template: Option<String>,
    /// The example conversation rendered with the template (ChatML when there is none), or why
    /// it could not be rendered.
    pub rendered: Result<String, String>,
    /// The model's shape, for the memory estimate.
    pub config: ModelConfig,
    /// The working dtype it was loaded in.
    pub dtype: DType,
}

/// An engine error as the page shows it: without the backtrace candle puts inside its errors
/// when `RUST_BACKTRACE` is set (indented `N: function` and `at file:line` lines).
pub fn readable_error(text: &str) -> String {
    let is_frame = |line: &str| {
        let t = line.trim_start();
        let numbered = t.split_once(": ").is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        line.starts_with(' ') && (numbered || t.starts_with("at "))
    };
    let kept: Vec<&str> = text.lines().filter(|l| !is_frame(l)).collect();
    kept.join("\n").replace("\n)", ")").trim_end().to_string()
}

/// Loads `model` on `device` as the "load model" stage and prepares its view. Runs on a worker.
pub fn load_view(model: String, device: DeviceRequest, sink: &EventSink, cancel: &CancelToken) -> Result<ModelView, String> {
    let device = open_device(device).map_err(|e| readable_error(&e.to_string()))?;
    let req = LoadRequest { model: model.clone(), options: LoadOptions { device, ..Default::default() } };
    let loaded = load_model_stage(&req, sink, cancel).map_err(|e| readable_error(&e.to_string()))?;
    let rows = describe_model(&loaded, TEMPLATE_ROW_CHARS).into_iter().filter(|(label, _)| *label != "chat template").collect();
    let rendered = loaded.tokenizer.render_chat(&example_conversation(), true).map_err(|e| readable_error(&e.to_string()));
    let setting = if Path::new(&model).exists() {
        std::path::absolute(&model).map(|p| p.display().to_string()).unwrap_or_else(|_| model.clone())
    } else {
        model.clone()
    };
    Ok(ModelView {
        setting,
        requested: model,
        template: loaded.tokenizer.chat_template().map(str::to_string),
        rendered,
        config: loaded.model.config().clone(),
        dtype: loaded.model.dtype(),
        rows,
        model: Arc::new(loaded),
    })
}

impl ModelView {
    /// The value of the description row `label`.
    pub fn row(&self, label: &str) -> Option<&str> {
        self.rows.iter().find(|(l, _)| *l == label).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtraces_are_cut_from_errors() {
        let with = "x.gguf: not a readable GGUF file (unknown magic 0x73696874\n   0: candle_core::error::Error::bt\n             at /src/error.rs:260:25\n  11: read\n); download it again";
        assert_eq!(readable_error(with), "x.gguf: not a readable GGUF file (unknown magic 0x73696874); download it again");
        let plain = "no such file or folder\nsecond line";
        assert_eq!(readable_error(plain), plain);
    }
}
