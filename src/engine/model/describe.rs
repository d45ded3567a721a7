//! A model's description as label/value rows, shown by `inspect` and by the GUI alike.

use super::LoadedModel;
use crate::engine::device::{describe_device, dtype_name};
use crate::engine::memory::bytes_text;

/// Label/value rows describing a loaded model. `template_chars` caps the chat template shown.
pub fn describe_model(loaded: &LoadedModel, template_chars: usize) -> Vec<(&'static str, String)> {
    let c = loaded.model.config();
    let info = &loaded.info;
    let tok = &loaded.tokenizer;
    let mut rows = vec![
        ("model", info.source.path().display().to_string()),
        (
            "architecture",
            format!(
                "{} ({} layers, hidden {}, MLP {})",
                c.architecture.hf_class(),
                c.num_hidden_layers,
                c.hidden_size,
                c.intermediate_size
            ),
        ),
        ("attention", format!("{} query heads, {} key/value heads, head dim {}", c.num_attention_heads, c.num_key_value_heads, c.head_dim)),
        ("parameters", format!("{} ({:.1}M)", info.parameters, info.parameters as f64 / 1e6)),
        ("stored dtype", info.stored_dtype.clone()),
    ];
    if let Some(q) = &info.quantization {
        rows.push(("tensor types", q.clone()));
    }
    if let Some(a) = &info.adapter {
        rows.push(("adapter", a.display().to_string()));
    }
    let scaling = c.rope_scaling.as_ref().map(|s| format!(", llama3 scaling x{}", s.factor)).unwrap_or_default();
    let held = if loaded.model.is_quantized() { "the matrices kept in their quantized blocks" } else { "dense" };
    rows.extend([
        ("weights in memory", format!("{} ({held})", bytes_text(loaded.model.weight_bytes() as u64))),
        ("working dtype", dtype_name(loaded.model.dtype()).to_string()),
        ("device", describe_device(loaded.model.device())),
        ("vocabulary", format!("{} (tokenizer: {})", c.vocab_size, tok.vocab_size())),
        ("context", format!("{} tokens", c.max_position_embeddings)),
        ("rope", format!("theta {}{scaling}", c.rope_theta)),
        ("tied embeddings", c.tie_word_embeddings.to_string()),
        (
            "special tokens",
            format!("bos {}, eos {}, stop ids {:?}", tok.bos_token().unwrap_or("none"), tok.eos_token().unwrap_or("none"), tok.stop_ids()),
        ),
    ]);
    let template = match tok.chat_template() {
        Some(t) if t.chars().count() > template_chars => {
            let shown: String = t.chars().take(template_chars).collect();
            format!("{shown} ... ({} chars in all)", t.chars().count())
        }
        Some(t) => t.to_string(),
        None => "none (ChatML is used for chat)".to_string(),
    };
    rows.push(("chat template", template));
    rows
}
