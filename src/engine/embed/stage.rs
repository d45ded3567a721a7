//! The embed stage: pick the text field of every example, embed, and write the vectors, either
//! to a file the user names or to a cache folder keyed by (data hash, encoder, text field), so
//! that splitting the same data again never re-embeds it. The CLI and the GUI both embed through
//! [`run_embed`] and [`embed_cached`].

use super::encoder::{embed_texts, EmbedOptions, Encoder, EncoderSpec};
use super::error::EmbedError;
use super::field::TextField;
use super::file::{cache_key, cache_path, load_embeddings, save_embeddings, Embeddings};
use crate::engine::data::{load_dataset, Dataset, Example, LoadDataOptions};
use crate::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use candle_core::Device;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The `field` text of every example, in data order.
pub fn texts_of(examples: &[Example], field: TextField) -> Vec<String> {
    examples.iter().map(|e| field.select(&e.instruction_text(), &e.response_text())).collect()
}

/// Which sentence encoder to load, where it runs and how many texts go through it at once.
#[derive(Debug, Clone)]
pub struct EncoderRequest {
    /// `builtin`, `minilm` or a sentence-transformers folder (see [`EncoderSpec`]).
    pub name: String,
    /// Where BERT weights go.
    pub device: Device,
    /// Texts per forward pass.
    pub options: EmbedOptions,
}

impl EncoderRequest {
    /// Resolves the name and loads the encoder.
    pub fn load(&self) -> Result<Encoder, EmbedError> {
        let spec: EncoderSpec = self.name.parse().map_err(EmbedError::Setting)?;
        Encoder::load(&spec, &self.device)
    }
}

/// The request of the embed stage.
#[derive(Debug, Clone)]
pub struct EmbedRequest {
    /// Instruction data file.
    pub data: PathBuf,
    /// How to read it.
    pub data_options: LoadDataOptions,
    /// The encoder.
    pub encoder: EncoderRequest,
    /// Which text of each example.
    pub field: TextField,
    /// The safetensors file to write.
    pub out: PathBuf,
}

/// What the embed stage made.
#[derive(Debug, Clone)]
pub struct EmbedOutcome {
    /// The vectors (also written to the request's `out`).
    pub embeddings: Embeddings,
    /// Seconds spent embedding (without loading).
    pub seconds: f64,
}

/// Reads instruction data for embedding, warning (through `scope`) about rows whose `field` text
/// is empty: they are embedded as the encoder's empty input.
pub fn load_for_embedding(path: &Path, opts: &LoadDataOptions, field: TextField, scope: &StageScope<'_>) -> Result<Dataset, EmbedError> {
    let data = load_dataset(path, opts)?;
    let empty = data.examples.iter().filter(|e| field.select(&e.instruction_text(), &e.response_text()).trim().is_empty()).count();
    if empty > 0 {
        scope.warn(format!("{empty} of {} rows have an empty {field} text; they are embedded as empty strings", data.examples.len()));
    }
    Ok(data)
}

/// The embed stage (`embed`): loads the data and the encoder, embeds, writes `req.out`.
pub fn run_embed(req: &EmbedRequest, sink: &EventSink, cancel: &CancelToken) -> Result<EmbedOutcome, EmbedError> {
    run_stage("embed", sink, cancel, |scope| {
        let data = load_for_embedding(&req.data, &req.data_options, req.field, &scope)?;
        let encoder = req.encoder.load()?;
        scope.check()?;
        let started = Instant::now();
        let embeddings = embed_dataset(&data, req.field, &encoder, &req.encoder.options, &scope)?;
        let seconds = started.elapsed().as_secs_f64();
        save_embeddings(&req.out, &embeddings)?;
        Ok(EmbedOutcome { embeddings, seconds })
    })
}

/// Embeds the `field` text of every example of `data`, reporting through `scope`.
pub fn embed_dataset(
    data: &Dataset,
    field: TextField,
    encoder: &Encoder,
    opts: &EmbedOptions,
    scope: &StageScope<'_>,
) -> Result<Embeddings, EmbedError> {
    let texts = texts_of(&data.examples, field);
    let values = embed_texts(encoder, &texts, opts, scope)?;
    Ok(Embeddings {
        rows: texts.len(),
        dim: encoder.dim(),
        values,
        encoder: encoder.id(),
        field: field.as_str().to_string(),
        data_sha256: data.sha256.clone(),
        normalized: encoder.normalizes(),
    })
}

/// Checks that `emb` was made from `data` (same file hash and row count).
pub fn check_matches(emb: &Embeddings, data: &Dataset, path: &Path) -> Result<(), EmbedError> {
    let bad = |detail: String| EmbedError::File { path: path.to_path_buf(), detail };
    if !emb.data_sha256.is_empty() && emb.data_sha256 != data.sha256 {
        return Err(bad(format!(
            "made from other data (sha256 {}…, but {} is {}…); embed this file again",
            &emb.data_sha256[..emb.data_sha256.len().min(12)],
            data.path.display(),
            &data.sha256[..data.sha256.len().min(12)]
        )));
    }
    if emb.rows != data.examples.len() {
        return Err(bad(format!("has {} rows but the data has {} examples; embed it again", emb.rows, data.examples.len())));
    }
    Ok(())
}

/// The embed stage over loaded data (`embed`): the embeddings of `data` by `encoder` over
/// `field`, from `cache_dir` when present there, else computed and stored there. Returns them and
/// whether they came from the cache.
pub fn embed_cached(
    data: &Dataset,
    field: TextField,
    encoder_req: &EncoderRequest,
    cache_dir: &Path,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<(Embeddings, bool), EmbedError> {
    run_stage("embed", sink, cancel, |scope| {
        let encoder = encoder_req.load()?;
        let path = cache_path(cache_dir, &cache_key(&data.sha256, &encoder.id(), field.as_str()));
        if path.is_file() {
            match load_embeddings(&path) {
                Ok(emb) if check_matches(&emb, data, &path).is_ok() && emb.encoder == encoder.id() && emb.field == field.as_str() => {
                    scope.log(format!("reusing embeddings from {}", path.display()));
                    scope.progress(emb.rows as u64, emb.rows as u64, "cached");
                    return Ok((emb, true));
                }
                _ => scope.warn(format!("cached embeddings {} do not match; embedding again", path.display())),
            }
        }
        let emb = embed_dataset(data, field, &encoder, &encoder_req.options, &scope)?;
        save_embeddings(&path, &emb)?;
        Ok((emb, false))
    })
}
