//! Reading safetensors checkpoints (single or sharded) with checks that turn a damaged file into
//! a message naming the file and the tensor, never a panic.

use super::error::{ModelError, Result};
use super::weights::Weights;
use candle_core::safetensors::Load;
use candle_core::Device;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Largest JSON header accepted (the safetensors format's own limit is 100 MB).
const MAX_HEADER_BYTES: u64 = 100 * 1024 * 1024;

/// The weight files of an HF folder: `model.safetensors`, or the shards an index names.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|source| ModelError::Io { path: index.clone(), source })?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ModelError::Weights { path: index.clone(), detail: format!("not valid JSON (line {}): {e}", e.line()) })?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ModelError::Weights { path: index.clone(), detail: "has no 'weight_map' object".into() })?;
        let shards: BTreeSet<&str> = map.values().filter_map(|v| v.as_str()).collect();
        return shards
            .into_iter()
            .map(|name| {
                let p = dir.join(name);
                if name.contains("..") || name.contains('/') || !p.is_file() {
                    Err(ModelError::Weights { path: index.clone(), detail: format!("names shard '{name}', which is not in the folder") })
                } else {
                    Ok(p)
                }
            })
            .collect();
    }
    for pickle in ["pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt"] {
        if dir.join(pickle).exists() {
            return Err(ModelError::PickleRefused { path: dir.join(pickle) });
        }
    }
    Err(ModelError::NotFound { path: dir.to_path_buf(), detail: "has no model.safetensors or model.safetensors.index.json".into() })
}

/// Checks the header of a safetensors buffer against its length, naming the first tensor that
/// runs past the end of a truncated file.
pub fn check_safetensors(path: &Path, bytes: &[u8]) -> Result<()> {
    let bad = |detail: String| ModelError::Weights { path: path.to_path_buf(), detail };
    let len = bytes.len() as u64;
    if len < 8 {
        return Err(bad(format!("only {len} bytes: not a safetensors file (truncated or empty); download it again")));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    let header_len = u64::from_le_bytes(n);
    if header_len > MAX_HEADER_BYTES || 8 + header_len > len {
        return Err(bad(format!(
            "header claims {header_len} bytes but the file has {len}: truncated or not a safetensors file; download it again"
        )));
    }
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len as usize])
        .map_err(|e| bad(format!("header is not valid JSON: {e}; the file is damaged")))?;
    let data_len = len - 8 - header_len;
    let obj = header.as_object().ok_or_else(|| bad("header is not a JSON object".into()))?;
    for (name, info) in obj {
        if name == "__metadata__" {
            continue;
        }
        let end = info.get("data_offsets").and_then(|o| o.get(1)).and_then(|e| e.as_u64());
        match end {
            Some(end) if end <= data_len => {}
            Some(end) => {
                return Err(bad(format!(
                    "truncated: tensor '{name}' ends at data byte {end} but only {data_len} data bytes are present; download the file again"
                )))
            }
            None => return Err(bad(format!("tensor '{name}' has no valid data_offsets"))),
        }
    }
    Ok(())
}

/// Called while weights are read with (tensors read, tensors in all); returning an error stops.
pub type LoadProgress<'a> = &'a mut dyn FnMut(u64, u64) -> std::result::Result<(), crate::engine::job::Cancelled>;

/// Loads every tensor of the given safetensors files (in their stored dtype) into `weights`.
pub fn load_safetensors(files: &[PathBuf], weights: &mut Weights, device: &Device) -> Result<()> {
    load_safetensors_reporting(files, weights, device, &mut |_, _| Ok(()))
}

/// [`load_safetensors`] that calls `progress(tensors_read, tensors_in_all)` after every tensor;
/// an error from it (a cancellation) stops the load.
pub fn load_safetensors_reporting(files: &[PathBuf], weights: &mut Weights, device: &Device, progress: LoadProgress<'_>) -> Result<()> {
    let mut maps = Vec::with_capacity(files.len());
    for path in files {
        let file = std::fs::File::open(path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        // SAFETY: the file is opened read-only and only read while the map lives; it is not
        // modified by this process.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| ModelError::Io { path: path.clone(), source })?;
        check_safetensors(path, &mmap)?;
        maps.push((path, mmap));
    }
    let mut parsed = Vec::with_capacity(maps.len());
    for (path, mmap) in &maps {
        let st = safetensors::SafeTensors::deserialize(mmap)
            .map_err(|e| ModelError::Weights { path: path.to_path_buf(), detail: format!("not a valid safetensors file: {e}") })?;
        parsed.push((path, st));
    }
    let total = parsed.iter().map(|(_, st)| st.len()).sum::<usize>() as u64;
    let mut done = 0u64;
    for (path, st) in parsed {
        for (name, view) in st.tensors() {
            let tensor = view.load(device).map_err(|e| ModelError::Tensor {
                path: path.to_path_buf(),
                name: name.clone(),
                detail: e.to_string(),
            })?;
            weights.insert(name, tensor);
            done += 1;
            progress(done, total)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Tensor};

    fn sample_file(dir: &Path) -> PathBuf {
        let a = Tensor::zeros((4, 4), DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::ones(8, DType::F32, &Device::Cpu).unwrap();
        let path = dir.join("model.safetensors");
        candle_core::safetensors::save(&[("a", a), ("b", b)].into_iter().collect(), &path).unwrap();
        path
    }

    #[test]
    fn truncated_file_names_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_file(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let mut w = Weights::new(dir.path());
        let err = load_safetensors(&[path], &mut w, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("truncated") && err.contains("model.safetensors") && err.contains("tensor '"), "{err}");
    }

    #[test]
    fn absurd_header_length_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, u64::MAX.to_le_bytes()).unwrap();
        let mut w = Weights::new(dir.path());
        assert!(load_safetensors(&[path], &mut w, &Device::Cpu).is_err());
    }

    #[test]
    fn round_trip_loads_all_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_file(dir.path());
        let mut w = Weights::new(dir.path());
        load_safetensors(&[path], &mut w, &Device::Cpu).unwrap();
        assert_eq!(w.names(), vec!["a".to_string(), "b".to_string()]);
    }
}
