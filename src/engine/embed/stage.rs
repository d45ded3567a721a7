//! The embed stage over a loaded dataset: pick the text field of every example, embed, and keep
//! the result in a cache folder keyed by (data hash, encoder, text field), so that splitting the
//! same data again never re-embeds it.

use super::encoder::{embed_texts, EmbedOptions, Encoder};
use super::error::EmbedError;
use super::field::TextField;
use super::file::{cache_key, cache_path, load_embeddings, save_embeddings, Embeddings};
use crate::engine::data::{Dataset, Example};
use crate::engine::pipeline::{CancelToken, EventSink};
use std::path::Path;

/// The `field` text of every example, in data order.
pub fn texts_of(examples: &[Example], field: TextField) -> Vec<String> {
    examples.iter().map(|e| field.select(&e.instruction_text(), &e.response_text())).collect()
}

/// Embeds the `field` text of every example of `data`.
pub fn embed_dataset(
    data: &Dataset,
    field: TextField,
    encoder: &Encoder,
    opts: &EmbedOptions,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<Embeddings, EmbedError> {
    let texts = texts_of(&data.examples, field);
    let values = embed_texts(encoder, &texts, opts, sink, cancel)?;
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
            "made from other data (sha256 {}…, but {} is {}…); embed this file again with `dtm-studio embed`",
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

/// Embeddings of `data` by `encoder` over `field`, from `cache_dir` when present there, else
/// computed and stored there. Returns them and whether they came from the cache.
pub fn embed_cached(
    data: &Dataset,
    field: TextField,
    encoder: &Encoder,
    opts: &EmbedOptions,
    cache_dir: &Path,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<(Embeddings, bool), EmbedError> {
    let path = cache_path(cache_dir, &cache_key(&data.sha256, &encoder.id(), field.as_str()));
    if path.is_file() {
        match load_embeddings(&path) {
            Ok(emb) if check_matches(&emb, data, &path).is_ok() && emb.encoder == encoder.id() && emb.field == field.as_str() => {
                sink.log(format!("reusing embeddings from {}", path.display()));
                return Ok((emb, true));
            }
            _ => sink.log(format!("cached embeddings {} do not match; embedding again", path.display())),
        }
    }
    let emb = embed_dataset(data, field, encoder, opts, sink, cancel)?;
    save_embeddings(&path, &emb)?;
    Ok((emb, false))
}
