//! Streaming safetensors output: the header is written from the planned names, dtypes and
//! shapes, then each tensor's bytes in order, so a model is written without holding it in
//! memory. Past a size threshold the model is split into HF-style shards with an index. Output
//! folders are assembled under a temporary name and renamed into place when complete.

use super::base::float_size;
use super::error::{MergeError, Result};
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A tensor to be written.
#[derive(Debug, Clone)]
pub struct OutTensor {
    /// Name in the file.
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
}

impl OutTensor {
    /// Size of its data in bytes.
    pub fn nbytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bitsize() / 8
    }
}

/// HF's default shard size (transformers' `max_shard_size="5GB"`).
pub const DEFAULT_MAX_SHARD_BYTES: u64 = 5_000_000_000;

/// Orders tensors as safetensors does (larger elements first, then by name) and groups them
/// into shards of at most `max_shard_bytes` (a larger tensor gets a shard of its own).
pub fn plan_shards(tensors: &mut [OutTensor], max_shard_bytes: u64) -> Vec<Vec<usize>> {
    tensors.sort_by(|a, b| b.dtype.bitsize().cmp(&a.dtype.bitsize()).then_with(|| a.name.cmp(&b.name)));
    let mut shards: Vec<Vec<usize>> = vec![Vec::new()];
    let mut size = 0u64;
    for (i, t) in tensors.iter().enumerate() {
        let n = t.nbytes() as u64;
        if size > 0 && size + n > max_shard_bytes {
            shards.push(Vec::new());
            size = 0;
        }
        if let Some(last) = shards.last_mut() {
            last.push(i);
        }
        size += n;
    }
    shards
}

/// File names of `count` shards: `model.safetensors`, or `model-00001-of-0000N.safetensors`.
pub fn shard_names(count: usize) -> Vec<String> {
    if count <= 1 {
        return vec!["model.safetensors".into()];
    }
    (1..=count).map(|i| format!("model-{i:05}-of-{count:05}.safetensors")).collect()
}

/// Writes one safetensors file tensor by tensor, in the planned order.
pub struct SafetensorsWriter {
    path: PathBuf,
    file: BufWriter<std::fs::File>,
    expected: Vec<(String, usize)>,
    next: usize,
}

impl SafetensorsWriter {
    /// Creates the file and writes its header (`format: pt` metadata, 8-byte aligned).
    pub fn create(path: &Path, tensors: &[&OutTensor]) -> Result<Self> {
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
        let mut offset = 0usize;
        for t in tensors {
            let n = t.nbytes();
            let dtype = serde_json::to_value(t.dtype).map_err(|e| MergeError::Spec(format!("dtype of '{}': {e}", t.name)))?;
            header.insert(t.name.clone(), serde_json::json!({"dtype": dtype, "shape": t.shape, "data_offsets": [offset, offset + n]}));
            offset += n;
        }
        let mut text = serde_json::to_vec(&serde_json::Value::Object(header)).map_err(|e| MergeError::Spec(e.to_string()))?;
        while text.len() % 8 != 0 {
            text.push(b' ');
        }
        let file = std::fs::File::create(path).map_err(|e| MergeError::io(path, e))?;
        let mut file = BufWriter::with_capacity(1 << 22, file);
        let io = |e| MergeError::io(path, e);
        file.write_all(&(text.len() as u64).to_le_bytes()).map_err(io)?;
        file.write_all(&text).map_err(io)?;
        let expected = tensors.iter().map(|t| (t.name.clone(), t.nbytes())).collect();
        Ok(Self { path: path.to_path_buf(), file, expected, next: 0 })
    }

    /// Appends the next tensor's bytes; checks name order and length.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let Some((want, len)) = self.expected.get(self.next) else {
            return Err(MergeError::Spec(format!("{}: more tensors written than planned ('{name}')", self.path.display())));
        };
        if want != name || *len != bytes.len() {
            return Err(MergeError::Spec(format!(
                "{}: tensor '{name}' ({} bytes) written where '{want}' ({len} bytes) was planned",
                self.path.display(),
                bytes.len()
            )));
        }
        self.file.write_all(bytes).map_err(|e| MergeError::io(&self.path, e))?;
        self.next += 1;
        Ok(())
    }

    /// Flushes and syncs; errors if tensors are missing.
    pub fn finish(mut self) -> Result<()> {
        if self.next != self.expected.len() {
            return Err(MergeError::Spec(format!("{}: {} of {} tensors written", self.path.display(), self.next, self.expected.len())));
        }
        self.file.flush().map_err(|e| MergeError::io(&self.path, e))?;
        self.file.get_ref().sync_all().map_err(|e| MergeError::io(&self.path, e))
    }
}

/// Writes `model.safetensors.index.json` for sharded output.
pub fn write_index(dir: &Path, tensors: &[OutTensor], shards: &[Vec<usize>], names: &[String]) -> Result<()> {
    let mut map = BTreeMap::new();
    for (shard, file) in shards.iter().zip(names) {
        for &i in shard {
            map.insert(tensors[i].name.clone(), file.clone());
        }
    }
    let total: usize = tensors.iter().map(OutTensor::nbytes).sum();
    let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": map});
    let path = dir.join("model.safetensors.index.json");
    let text = serde_json::to_string_pretty(&index).map_err(|e| MergeError::Spec(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| MergeError::io(path, e))
}

/// Whether merging can compute in this dtype (floats) or must copy the tensor as is.
pub fn is_float(dtype: Dtype) -> bool {
    float_size(dtype).is_some()
}

/// An output folder assembled under a temporary sibling name and renamed into place by
/// [`OutputDir::commit`]; dropped without committing, it removes the temporary folder.
pub struct OutputDir {
    tmp: PathBuf,
    target: PathBuf,
    overwrite: bool,
    committed: bool,
}

impl OutputDir {
    /// Prepares a temporary folder beside `target`. Errors if `target` exists and is not empty
    /// unless `overwrite`.
    pub fn create(target: &Path, overwrite: bool) -> Result<Self> {
        let non_empty = target.is_dir() && std::fs::read_dir(target).map(|mut d| d.next().is_some()).unwrap_or(true);
        if (non_empty || target.is_file()) && !overwrite {
            return Err(MergeError::OutputExists { path: target.to_path_buf() });
        }
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| MergeError::io(parent, e))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "merged".into());
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| MergeError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| MergeError::io(&tmp, e))?;
        Ok(Self { tmp, target: target.to_path_buf(), overwrite, committed: false })
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the finished folder to its target (replacing an old one when allowed).
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.target.exists() {
            if !self.overwrite && std::fs::read_dir(&self.target).map(|mut d| d.next().is_some()).unwrap_or(true) {
                return Err(MergeError::OutputExists { path: self.target.clone() });
            }
            let old = self.tmp.with_extension("old");
            std::fs::rename(&self.target, &old).map_err(|e| MergeError::io(&self.target, e))?;
            std::fs::rename(&self.tmp, &self.target).map_err(|e| MergeError::io(&self.target, e))?;
            let removed = if old.is_dir() { std::fs::remove_dir_all(&old) } else { std::fs::remove_file(&old) };
            removed.map_err(|e| MergeError::io(&old, e))?;
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| MergeError::io(&self.target, e))?;
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_at_the_threshold_and_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut ts: Vec<OutTensor> = (0..5).map(|i| OutTensor { name: format!("t{i}"), dtype: Dtype::F32, shape: vec![4, 2] }).collect();
        ts.push(OutTensor { name: "h".into(), dtype: Dtype::BF16, shape: vec![3] });
        let shards = plan_shards(&mut ts, 64); // 32 bytes each: two per shard
        assert_eq!(shards.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(ts.last().unwrap().name, "h", "2-byte tensors come after 4-byte ones");
        let names = shard_names(shards.len());
        for (shard, name) in shards.iter().zip(&names) {
            let refs: Vec<&OutTensor> = shard.iter().map(|&i| &ts[i]).collect();
            let mut w = SafetensorsWriter::create(&dir.path().join(name), &refs).unwrap();
            for t in &refs {
                w.write(&t.name, &vec![1u8; t.nbytes()]).unwrap();
            }
            w.finish().unwrap();
        }
        write_index(dir.path(), &ts, &shards, &names).unwrap();
        let files = crate::engine::model::safetensors_file::weight_files(dir.path()).unwrap();
        assert_eq!(files.len(), 3);
        let mut w = crate::engine::model::weights::Weights::new(dir.path());
        crate::engine::model::safetensors_file::load_safetensors(&files, &mut w, &candle_core::Device::Cpu).unwrap();
        assert_eq!(w.len(), 6);
    }

    #[test]
    fn writer_refuses_out_of_order_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let t = OutTensor { name: "a".into(), dtype: Dtype::F32, shape: vec![1] };
        let mut w = SafetensorsWriter::create(&dir.path().join("x.safetensors"), &[&t]).unwrap();
        assert!(w.write("b", &[0; 4]).is_err());
    }

    #[test]
    fn output_dir_is_atomic() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        {
            let o = OutputDir::create(&target, false).unwrap();
            std::fs::write(o.path().join("f"), b"x").unwrap();
        } // dropped: nothing left behind
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        let o = OutputDir::create(&target, false).unwrap();
        std::fs::write(o.path().join("f"), b"x").unwrap();
        o.commit().unwrap();
        assert!(target.join("f").is_file());
        assert!(matches!(OutputDir::create(&target, false), Err(MergeError::OutputExists { .. })));
        let o = OutputDir::create(&target, true).unwrap();
        std::fs::write(o.path().join("g"), b"y").unwrap();
        o.commit().unwrap();
        assert!(target.join("g").is_file() && !target.join("f").exists());
    }
}
