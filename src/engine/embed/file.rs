//! Embedding files: safetensors with one f32 tensor `embeddings` `[rows, dim]` and the metadata
//! `encoder`, `field`, `data_sha256` (and `normalized`). Written atomically (temporary name, then
//! rename) and streamed, so a large matrix is never copied in memory. Also the cache key that lets
//! a run directory reuse embeddings of the same data, encoder and text field.

use super::error::EmbedError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the tensor inside an embeddings file.
pub const TENSOR_NAME: &str = "embeddings";

/// A matrix of sentence vectors and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Number of rows (texts).
    pub rows: usize,
    /// Vector dimension.
    pub dim: usize,
    /// Row-major values, `rows * dim`.
    pub values: Vec<f32>,
    /// The encoder's identity.
    pub encoder: String,
    /// Which text field was embedded ("instruction", "response", "both").
    pub field: String,
    /// SHA-256 of the data file the rows come from.
    pub data_sha256: String,
    /// Whether every row is L2-normalised.
    pub normalized: bool,
}

impl Embeddings {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

fn file_err(path: &Path, detail: impl Into<String>) -> EmbedError {
    EmbedError::File { path: path.to_path_buf(), detail: detail.into() }
}

/// Writes `emb` to `path` atomically (a temporary file in the same folder, then a rename).
pub fn save_embeddings(path: &Path, emb: &Embeddings) -> Result<(), EmbedError> {
    if emb.values.len() != emb.rows * emb.dim {
        return Err(file_err(path, format!("{} values for shape [{}, {}]", emb.values.len(), emb.rows, emb.dim)));
    }
    let mut meta = BTreeMap::new();
    meta.insert("encoder", emb.encoder.clone());
    meta.insert("field", emb.field.clone());
    meta.insert("data_sha256", emb.data_sha256.clone());
    meta.insert("normalized", emb.normalized.to_string());
    let nbytes = emb.values.len() * 4;
    let header = serde_json::json!({
        "__metadata__": meta,
        TENSOR_NAME: {"dtype": "F32", "shape": [emb.rows, emb.dim], "data_offsets": [0, nbytes]},
    });
    let mut header = header.to_string().into_bytes();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| EmbedError::io(parent, e))?;
    }
    let tmp = tmp_name(path);
    let write = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(&header)?;
        for v in &emb.values {
            w.write_all(&v.to_le_bytes())?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        EmbedError::io(path, e)
    })
}

fn tmp_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "embeddings".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Reads an embeddings file written by [`save_embeddings`] (or any safetensors file with an f32
/// tensor `embeddings` `[rows, dim]`; missing metadata reads as empty strings).
pub fn load_embeddings(path: &Path) -> Result<Embeddings, EmbedError> {
    let bytes = std::fs::read(path).map_err(|e| EmbedError::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| file_err(path, format!("not a readable safetensors file ({e}); write it with `dtm-studio embed`")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| file_err(path, e.to_string()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |k: &str| meta.get(k).cloned().unwrap_or_default();
    let view =
        st.tensor(TENSOR_NAME).map_err(|_| file_err(path, format!("has no tensor '{TENSOR_NAME}'; write it with `dtm-studio embed`")))?;
    if view.dtype() != safetensors::Dtype::F32 || view.shape().len() != 2 {
        return Err(file_err(path, format!("tensor '{TENSOR_NAME}' is {:?} {:?}; expected F32 [rows, dim]", view.dtype(), view.shape())));
    }
    let (rows, dim) = (view.shape()[0], view.shape()[1]);
    let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(file_err(path, "contains NaN or infinite values; embed the data again"));
    }
    Ok(Embeddings {
        rows,
        dim,
        values,
        encoder: get("encoder"),
        field: get("field"),
        data_sha256: get("data_sha256"),
        normalized: get("normalized") == "true",
    })
}

/// The cache key of embeddings of data `data_sha256` by `encoder_id` over text `field`: 16 hex
/// digits of SHA-256 over the three.
pub fn cache_key(data_sha256: &str, encoder_id: &str, field: &str) -> String {
    let mut h = Sha256::new();
    for part in [data_sha256, encoder_id, field] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    crate::engine::hash::hex(&h.finalize()[..8])
}

/// Where cached embeddings of that key live inside `cache_dir`.
pub fn cache_path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(format!("embeddings-{key}.safetensors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Embeddings {
        Embeddings {
            rows: 2,
            dim: 3,
            values: vec![1.0, 0.0, 0.0, 0.0, 0.6, 0.8],
            encoder: "builtin:x".into(),
            field: "instruction".into(),
            data_sha256: "abc".into(),
            normalized: true,
        }
    }

    #[test]
    fn round_trip_through_the_safetensors_crate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/e.safetensors");
        save_embeddings(&p, &sample()).unwrap();
        assert_eq!(load_embeddings(&p).unwrap(), sample());
        let bytes = std::fs::read(&p).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("embeddings").unwrap().shape(), &[2, 3]);
        assert!(std::fs::read_dir(p.parent().unwrap()).unwrap().count() == 1, "temporary file left behind");
    }

    #[test]
    fn damaged_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.safetensors");
        std::fs::write(&p, b"not at all").unwrap();
        let msg = load_embeddings(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.safetensors") && msg.contains("dtm-studio embed"), "{msg}");
    }

    #[test]
    fn cache_key_depends_on_every_part() {
        let k = cache_key("d", "e", "instruction");
        assert_eq!(k.len(), 16);
        assert_ne!(k, cache_key("d", "e", "response"));
        assert_ne!(k, cache_key("d2", "e", "instruction"));
        assert_ne!(k, cache_key("d", "e2", "instruction"));
    }
}
