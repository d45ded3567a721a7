//! The text side of a model: the `tokenizers` tokenizer, its special tokens, the end-of-turn
//! tokens that stop generation, and the chat template.

use super::error::{ModelError, Result};
use crate::engine::data::chat_template::{render_chat_template, ChatMessage, TemplateTokens, CHATML_TEMPLATE};
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use std::path::{Path, PathBuf};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::Tokenizer;

/// A tokenizer with the model's special tokens and chat template.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    bos_token: Option<String>,
    eos_token: Option<String>,
    stop_ids: Vec<u32>,
    chat_template: Option<String>,
    origin: PathBuf,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer").field("origin", &self.origin).field("vocab", &self.vocab_size()).finish()
    }
}

fn token_string(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content").and_then(|c| c.as_str()).map(str::to_string),
        _ => None,
    }
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ModelError::Tokenizer { path: path.to_path_buf(), detail: format!("not valid JSON (line {}): {e}", e.line()) })
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, `tokenizer_config.json` (special tokens, `chat_template`),
    /// `chat_template.jinja` and `generation_config.json` (extra stop ids) from an HF folder.
    pub fn from_hf_folder(dir: &Path, config_eos: &[u32]) -> Result<Self> {
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(ModelError::Tokenizer {
                path: tok_path,
                detail: "missing: the model folder needs tokenizer.json (save it with `tokenizer.save_pretrained(DIR)`)".into(),
            });
        }
        let inner = Tokenizer::from_file(&tok_path).map_err(|e| ModelError::Tokenizer { path: tok_path.clone(), detail: e.to_string() })?;
        let cfg = read_json(&dir.join("tokenizer_config.json"))?.unwrap_or_default();
        let jinja = dir.join("chat_template.jinja");
        let chat_template = if jinja.is_file() {
            Some(std::fs::read_to_string(&jinja).map_err(|source| ModelError::Io { path: jinja.clone(), source })?)
        } else {
            match cfg.get("chat_template") {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                // A list of named templates: take "default".
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                    .and_then(|t| t.get("template"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                _ => None,
            }
        };
        let generation = read_json(&dir.join("generation_config.json"))?.unwrap_or_default();
        let mut stop_ids: Vec<u32> = config_eos.to_vec();
        stop_ids.extend(super::config::token_ids(generation.get("eos_token_id")));
        let mut tok = Self {
            bos_token: token_string(cfg.get("bos_token")),
            eos_token: token_string(cfg.get("eos_token")),
            inner,
            stop_ids,
            chat_template,
            origin: tok_path,
        };
        tok.finish_stop_ids();
        Ok(tok)
    }

    /// Rebuilds the tokenizer from GGUF metadata (`tokenizer.ggml.*`). For GPT-2-style BPE the
    /// pre-tokenizer follows `tokenizer.ggml.pre` as llama.cpp does (e.g. `smollm` splits digits).
    pub fn from_gguf(content: &Content, path: &Path, config_eos: &[u32]) -> Result<Self> {
        let bad = |detail: String| ModelError::Tokenizer { path: path.to_path_buf(), detail };
        let meta_str = |key: &str| content.metadata.get(key).and_then(|v| v.to_string().ok()).cloned();
        let kind = meta_str("tokenizer.ggml.model").unwrap_or_default();
        let inner = if kind == "llama" {
            super::sentencepiece::sentencepiece_from_gguf(content)
                .map_err(|e| bad(format!("cannot rebuild the SentencePiece tokenizer from the GGUF metadata: {e}")))?
        } else {
            Self::byte_level_from_gguf(content, meta_str("tokenizer.ggml.pre").as_deref())
                .map_err(|e| bad(format!("cannot rebuild the tokenizer from the GGUF metadata: {e}")))?
        };
        let token_at = |key: &str| -> Option<String> {
            let id = content.metadata.get(key)?.to_u32().ok()?;
            inner.id_to_token(id)
        };
        let mut tok = Self {
            bos_token: token_at("tokenizer.ggml.bos_token_id"),
            eos_token: token_at("tokenizer.ggml.eos_token_id"),
            stop_ids: config_eos.to_vec(),
            chat_template: meta_str("tokenizer.chat_template"),
            inner,
            origin: path.to_path_buf(),
        };
        tok.finish_stop_ids();
        Ok(tok)
    }

    /// A byte-level BPE tokenizer (`tokenizer.ggml.model = gpt2`) with the pre-tokenizer its
    /// `tokenizer.ggml.pre` names.
    fn byte_level_from_gguf(content: &Content, pre: Option<&str>) -> candle_core::Result<Tokenizer> {
        let mut inner = Tokenizer::from_gguf(content)?;
        match pre.unwrap_or("gpt2") {
            "qwen2" | "llama3" | "llama-bpe" | "smaug-bpe" | "lfm2" => {}
            "smollm" | "starcoder" | "refact" => {
                inner.with_pre_tokenizer(Some(Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()])));
            }
            _ => {
                inner.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
            }
        }
        Ok(inner)
    }

    /// Adds the template's end-of-turn tokens (`<|im_end|>`, `<|eot_id|>`, ...) to the stop ids.
    fn finish_stop_ids(&mut self) {
        let mut ids = std::mem::take(&mut self.stop_ids);
        if let Some(id) = self.eos_token.as_deref().and_then(|t| self.inner.token_to_id(t)) {
            ids.push(id);
        }
        for end in ["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"] {
            let in_template = self.chat_template.as_deref().map(|t| t.contains(end)).unwrap_or(false);
            if in_template || self.eos_token.as_deref() == Some(end) {
                ids.extend(self.inner.token_to_id(end));
            }
        }
        ids.sort_unstable();
        ids.dedup();
        self.stop_ids = ids;
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The beginning-of-sequence token, if the model has one.
    pub fn bos_token(&self) -> Option<&str> {
        self.bos_token.as_deref()
    }

    /// The end-of-sequence token, if the model has one.
    pub fn eos_token(&self) -> Option<&str> {
        self.eos_token.as_deref()
    }

    /// Token ids that end a generated answer.
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    /// The model's own chat template, if it ships one.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Token ids of `text`. Special tokens written in the text are recognised; `add_special`
    /// adds the post-processor's tokens (e.g. a BOS) as `transformers` would.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>> {
        self.inner
            .encode(text, add_special)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| ModelError::Tokenizer { path: self.origin.clone(), detail: format!("encoding failed: {e}") })
    }

    /// Text of `ids`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| ModelError::Tokenizer { path: self.origin.clone(), detail: format!("decoding failed: {e}") })
    }

    /// Renders a conversation with the model's chat template (ChatML when it has none).
    pub fn render_chat(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let template = self.chat_template.as_deref().unwrap_or(CHATML_TEMPLATE);
        let tokens = TemplateTokens { bos: self.bos_token.clone().unwrap_or_default(), eos: self.eos_token.clone().unwrap_or_default() };
        render_chat_template(template, messages, add_generation_prompt, &tokens).map_err(ModelError::Template)
    }
}
