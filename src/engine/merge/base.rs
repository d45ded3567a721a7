//! The base model as a list of tensors read one at a time: memory-mapped safetensors for HF
//! folders (nothing is loaded until a tensor is asked for), de-quantised f32 tensors for GGUF
//! files. Also writes the non-weight files of a merged HF folder (config, tokenizer,
//! generation config).

use super::error::{MergeError, Result};
use crate::engine::model::safetensors_file::{check_safetensors, weight_files};
use crate::engine::model::{gguf::GgufFile, resolve_model, ModelConfig, ModelSource, TextTokenizer};
use candle_core::Tensor;
use rayon::prelude::*;
use safetensors::Dtype;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One tensor of the base model.
#[derive(Debug, Clone)]
pub struct BaseEntry {
    /// HF name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Stored element type.
    pub dtype: Dtype,
    loc: Loc,
}

#[derive(Debug, Clone)]
enum Loc {
    Mapped { file: usize, start: usize, end: usize },
    Memory,
}

enum Storage {
    Mapped { paths: Vec<PathBuf>, maps: Vec<memmap2::Mmap> },
    Memory(HashMap<String, Tensor>),
}

/// A base model opened for merging.
pub struct BaseModel {
    /// Where it came from.
    pub source: ModelSource,
    /// Its architecture.
    pub config: ModelConfig,
    entries: Vec<BaseEntry>,
    storage: Storage,
    tokenizer: Option<TextTokenizer>,
}

/// Bytes per element of the float types merging reads and writes.
pub fn float_size(dtype: Dtype) -> Option<usize> {
    match dtype {
        Dtype::F32 => Some(4),
        Dtype::BF16 | Dtype::F16 => Some(2),
        Dtype::F64 => Some(8),
        _ => None,
    }
}

/// HF's name of a float type (`torch_dtype` in config.json, `dtype` in merge.yaml).
pub fn hf_dtype_name(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::BF16 => "bfloat16",
        Dtype::F16 => "float16",
        Dtype::F64 => "float64",
        _ => "float32",
    }
}

/// Little-endian float bytes to f32 (`None` for non-float types).
pub fn bytes_to_f32(bytes: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    let size = float_size(dtype)?;
    let mut out = vec![0f32; bytes.len() / size];
    out.par_chunks_mut(4096).zip(bytes.par_chunks(size * 4096)).for_each(|(dst, src)| {
        for (d, c) in dst.iter_mut().zip(src.chunks_exact(size)) {
            *d = match dtype {
                Dtype::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                Dtype::BF16 => half::bf16::from_le_bytes([c[0], c[1]]).to_f32(),
                Dtype::F16 => half::f16::from_le_bytes([c[0], c[1]]).to_f32(),
                _ => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32,
            };
        }
    });
    Some(out)
}

/// f32 values to little-endian bytes of `dtype` (round to nearest even for bf16/f16).
pub fn f32_to_bytes(values: &[f32], dtype: Dtype) -> Vec<u8> {
    let size = float_size(dtype).unwrap_or(4);
    let mut out = vec![0u8; values.len() * size];
    out.par_chunks_mut(size * 4096).zip(values.par_chunks(4096)).for_each(|(dst, src)| {
        for (d, &v) in dst.chunks_exact_mut(size).zip(src) {
            match dtype {
                Dtype::BF16 => d.copy_from_slice(&half::bf16::from_f32(v).to_le_bytes()),
                Dtype::F16 => d.copy_from_slice(&half::f16::from_f32(v).to_le_bytes()),
                Dtype::F64 => d.copy_from_slice(&(v as f64).to_le_bytes()),
                _ => d.copy_from_slice(&v.to_le_bytes()),
            }
        }
    });
    out
}

impl BaseModel {
    /// Opens a folder, `.gguf` file or cached HF id. HF weights are memory-mapped; a GGUF file
    /// is de-quantised to f32 in memory (a quantised base has no other exact form).
    pub fn open(arg: &str) -> Result<Self> {
        let source = resolve_model(arg)?;
        match &source {
            ModelSource::HfFolder(dir) => {
                let config = ModelConfig::from_hf_file(&dir.join("config.json"))?;
                let paths = weight_files(dir)?;
                let mut maps = Vec::new();
                let mut entries = Vec::new();
                for (i, path) in paths.iter().enumerate() {
                    let file = std::fs::File::open(path).map_err(|e| MergeError::io(path, e))?;
                    // SAFETY: read-only map of a file this process does not modify while merging.
                    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| MergeError::io(path, e))?;
                    check_safetensors(path, &map)?;
                    let (header, meta) = safetensors::SafeTensors::read_metadata(&map).map_err(|e| MergeError::Tensor {
                        path: path.clone(),
                        name: String::new(),
                        detail: format!("not a valid safetensors file: {e}"),
                    })?;
                    for (name, info) in meta.tensors() {
                        let start = 8 + header + info.data_offsets.0;
                        let end = 8 + header + info.data_offsets.1;
                        entries.push(BaseEntry {
                            name,
                            shape: info.shape.clone(),
                            dtype: info.dtype,
                            loc: Loc::Mapped { file: i, start, end },
                        });
                    }
                    maps.push(map);
                }
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(Self { source, config, entries, storage: Storage::Mapped { paths, maps }, tokenizer: None })
            }
            ModelSource::Gguf(path) => {
                let mut file = GgufFile::open(path)?;
                let config = file.config()?;
                let tokenizer = TextTokenizer::from_gguf(file.content(), path, &config.eos_token_ids)?;
                let weights = file.weights(&config, None, &mut |_, _| Ok(()))?;
                let mut map = HashMap::new();
                let mut entries = Vec::new();
                for name in weights.names() {
                    if name == "rope_freqs.weight" {
                        continue;
                    }
                    if let Some(t) = weights.get(&name) {
                        let t = t.to_dtype(candle_core::DType::F32)?;
                        entries.push(BaseEntry { name: name.clone(), shape: t.dims().to_vec(), dtype: Dtype::F32, loc: Loc::Memory });
                        map.insert(name, t);
                    }
                }
                Ok(Self { source, config, entries, storage: Storage::Memory(map), tokenizer: Some(tokenizer) })
            }
        }
    }

    /// The model's tokenizer (from the GGUF metadata or the folder's tokenizer files).
    pub fn tokenizer(&self) -> Result<TextTokenizer> {
        match (&self.tokenizer, &self.source) {
            (Some(tok), _) => Ok(tok.clone()),
            (None, ModelSource::HfFolder(dir)) => Ok(TextTokenizer::from_hf_folder(dir, &self.config.eos_token_ids)?),
            (None, other) => Err(MergeError::Spec(format!("{}: no tokenizer found", other.path().display()))),
        }
    }

    /// The tensors, sorted by name.
    pub fn entries(&self) -> &[BaseEntry] {
        &self.entries
    }

    /// Tensor name -> shape.
    pub fn shapes(&self) -> HashMap<String, Vec<usize>> {
        self.entries.iter().map(|e| (e.name.clone(), e.shape.clone())).collect()
    }

    /// The folder or file it was opened from.
    pub fn path(&self) -> &Path {
        self.source.path()
    }

    /// The model's float type: that of `model.embed_tokens.weight` (f32 for GGUF).
    pub fn dtype(&self) -> Dtype {
        self.entries.iter().find(|e| e.name == "model.embed_tokens.weight").map(|e| e.dtype).unwrap_or(Dtype::F32)
    }

    fn file_of(&self, entry: &BaseEntry) -> PathBuf {
        match (&self.storage, &entry.loc) {
            (Storage::Mapped { paths, .. }, Loc::Mapped { file, .. }) => paths[*file].clone(),
            _ => self.path().to_path_buf(),
        }
    }

    /// A tensor's stored bytes (borrowed from the map for HF folders).
    pub fn raw_bytes(&self, entry: &BaseEntry) -> Result<Cow<'_, [u8]>> {
        match (&self.storage, &entry.loc) {
            (Storage::Mapped { maps, .. }, Loc::Mapped { file, start, end }) => Ok(Cow::Borrowed(&maps[*file][*start..*end])),
            (Storage::Memory(map), _) => {
                let t = map.get(&entry.name).ok_or_else(|| self.tensor_error(entry, "vanished from memory".into()))?;
                Ok(Cow::Owned(f32_to_bytes(&t.flatten_all()?.to_vec1::<f32>()?, Dtype::F32)))
            }
            _ => Err(self.tensor_error(entry, "has no storage".into())),
        }
    }

    /// A float tensor's values as f32.
    pub fn read_f32(&self, entry: &BaseEntry) -> Result<Vec<f32>> {
        if let Some(t) = self.memory_tensor(entry) {
            return Ok(t.flatten_all()?.to_vec1::<f32>()?);
        }
        let bytes = self.raw_bytes(entry)?;
        bytes_to_f32(&bytes, entry.dtype).ok_or_else(|| {
            self.tensor_error(entry, format!("is {:?}; only float tensors (f32, bf16, f16, f64) can be merged", entry.dtype))
        })
    }

    fn memory_tensor(&self, entry: &BaseEntry) -> Option<&Tensor> {
        match &self.storage {
            Storage::Memory(map) => map.get(&entry.name),
            Storage::Mapped { .. } => None,
        }
    }

    /// A tensor as a candle tensor in f32 on the CPU.
    pub fn tensor_f32(&self, entry: &BaseEntry) -> Result<Tensor> {
        if let Some(t) = self.memory_tensor(entry) {
            return Ok(t.clone());
        }
        let values = self.read_f32(entry)?;
        Ok(Tensor::from_vec(values, entry.shape.as_slice(), &candle_core::Device::Cpu)?)
    }

    /// An error naming the file and tensor.
    pub fn tensor_error(&self, entry: &BaseEntry, detail: String) -> MergeError {
        MergeError::Tensor { path: self.file_of(entry), name: entry.name.clone(), detail }
    }

    /// Writes `config.json` (with `dtype`), the tokenizer files and `generation_config.json`
    /// into `out`.
    pub fn write_support_files(&self, out: &Path, dtype: Dtype) -> Result<()> {
        let write = |name: &str, value: &serde_json::Value| -> Result<()> {
            let p = out.join(name);
            let text = serde_json::to_string_pretty(value).map_err(|e| MergeError::Spec(format!("cannot encode {name}: {e}")))?;
            std::fs::write(&p, text + "\n").map_err(|e| MergeError::io(p, e))
        };
        let dtype_name = hf_dtype_name(dtype);
        match &self.source {
            ModelSource::HfFolder(dir) => {
                let cfg_path = dir.join("config.json");
                let text = std::fs::read_to_string(&cfg_path).map_err(|e| MergeError::io(&cfg_path, e))?;
                let mut cfg: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| MergeError::Spec(format!("{}: not valid JSON (line {}): {e}", cfg_path.display(), e.line())))?;
                if let Some(obj) = cfg.as_object_mut() {
                    obj.insert("torch_dtype".into(), dtype_name.into());
                    obj.insert("dtype".into(), dtype_name.into());
                }
                write("config.json", &cfg)?;
                let entries = std::fs::read_dir(dir).map_err(|e| MergeError::io(dir, e))?;
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if is_support_file(&name) && entry.path().is_file() {
                        std::fs::copy(entry.path(), out.join(&name)).map_err(|e| MergeError::io(entry.path(), e))?;
                    }
                }
            }
            ModelSource::Gguf(path) => {
                write("config.json", &self.config.to_hf_json(dtype_name))?;
                if let Some(tok) = &self.tokenizer {
                    let tok_path = out.join("tokenizer.json");
                    tok.inner()
                        .save(&tok_path, false)
                        .map_err(|e| MergeError::Spec(format!("{}: cannot write tokenizer: {e}", tok_path.display())))?;
                    let mut tc = serde_json::json!({
                        "tokenizer_class": "PreTrainedTokenizerFast",
                        "model_max_length": self.config.max_position_embeddings,
                        "bos_token": tok.bos_token(),
                        "eos_token": tok.eos_token(),
                    });
                    if let Some(t) = tok.chat_template() {
                        tc["chat_template"] = t.into();
                    }
                    write("tokenizer_config.json", &tc)?;
                } else {
                    return Err(MergeError::Spec(format!("{}: no tokenizer to write", path.display())));
                }
            }
        }
        if !out.join("generation_config.json").is_file() {
            let gc = serde_json::json!({
                "_from_model_config": true,
                "bos_token_id": self.config.bos_token_id,
                "eos_token_id": self.config.eos_token_ids.first(),
            });
            write("generation_config.json", &gc)?;
        }
        Ok(())
    }
}

/// Files of an HF folder that a merged folder copies unchanged.
fn is_support_file(name: &str) -> bool {
    matches!(
        name,
        "generation_config.json"
            | "tokenizer.json"
            | "tokenizer_config.json"
            | "special_tokens_map.json"
            | "added_tokens.json"
            | "vocab.json"
            | "merges.txt"
            | "tokenizer.model"
    ) || name.ends_with(".jinja")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_round_trips() {
        let v = vec![1.0f32, -2.5, 0.1, 65504.0];
        assert_eq!(bytes_to_f32(&f32_to_bytes(&v, Dtype::F32), Dtype::F32).unwrap(), v);
        let bf = bytes_to_f32(&f32_to_bytes(&v, Dtype::BF16), Dtype::BF16).unwrap();
        assert_eq!(bf[..2], [1.0, -2.5]);
        assert!((bf[2] - 0.1).abs() < 1e-3);
        assert!(bytes_to_f32(&[0u8; 8], Dtype::I64).is_none());
    }
}
