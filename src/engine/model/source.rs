//! Turning what the user typed (a folder, a `.gguf` file, or an HF model id already in the local
//! cache) into a concrete source to load, and refusing pickles before anything is read.

use super::error::{ModelError, Result};
use std::path::{Path, PathBuf};

/// Where a model's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// An HF folder with `config.json`, safetensors weights and tokenizer files.
    HfFolder(PathBuf),
    /// A single GGUF file with metadata and tokenizer inside.
    Gguf(PathBuf),
}

impl ModelSource {
    /// The folder or file, for messages.
    pub fn path(&self) -> &Path {
        match self {
            Self::HfFolder(p) | Self::Gguf(p) => p,
        }
    }
}

const PICKLE_EXTENSIONS: [&str; 5] = ["bin", "pt", "pth", "pkl", "ckpt"];

fn has_extension(path: &Path, exts: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).map(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x))).unwrap_or(false)
}

/// Resolves a model argument: a folder, a `.gguf` file, a file inside an HF folder, or an
/// `org/name` id found in the local Hugging Face cache (never downloaded).
pub fn resolve_model(arg: &str) -> Result<ModelSource> {
    let path = PathBuf::from(arg);
    if path.is_file() {
        if has_extension(&path, &["gguf"]) {
            return Ok(ModelSource::Gguf(path));
        }
        if has_extension(&path, &PICKLE_EXTENSIONS) {
            return Err(ModelError::PickleRefused { path });
        }
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let parent = if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent };
        return resolve_folder(&parent);
    }
    if path.is_dir() {
        return resolve_folder(&path);
    }
    if let Some(folder) = find_in_hf_cache(arg) {
        return resolve_folder(&folder);
    }
    Err(ModelError::NotFound {
        path,
        detail: format!(
            "no such file or folder, and no model '{arg}' in the local Hugging Face cache ({}). Give a folder with config.json, a .gguf file, or the id of a model already downloaded",
            hf_cache_dir().display()
        ),
    })
}

fn resolve_folder(dir: &Path) -> Result<ModelSource> {
    if dir.join("config.json").is_file() {
        return Ok(ModelSource::HfFolder(dir.to_path_buf()));
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ModelError::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let ggufs: Vec<&PathBuf> = entries.iter().filter(|p| has_extension(p, &["gguf"])).collect();
    match ggufs.as_slice() {
        [one] => return Ok(ModelSource::Gguf((*one).clone())),
        [] => {}
        many => {
            let names: Vec<String> = many.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
            return Err(ModelError::NotFound {
                path: dir.to_path_buf(),
                detail: format!("holds several GGUF files ({}); name the one to load", names.join(", ")),
            });
        }
    }
    Err(ModelError::NotFound { path: dir.to_path_buf(), detail: "has no config.json and no .gguf file: not a model folder".into() })
}

/// The Hugging Face hub cache folder: `$HF_HUB_CACHE`, `$HF_HOME/hub`, or `~/.cache/huggingface/hub`.
pub fn hf_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("HF_HOME") {
        return PathBuf::from(p).join("hub");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache").join("huggingface").join("hub")
}

/// Finds `org/name` in the HF cache: the snapshot `refs/main` points to, else the newest one.
pub fn find_in_hf_cache(id: &str) -> Option<PathBuf> {
    if id.split('/').count() != 2 || id.contains("..") {
        return None;
    }
    let repo = hf_cache_dir().join(format!("models--{}", id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let dir = snapshots.join(rev.trim());
        if dir.is_dir() {
            return Some(dir);
        }
    }
    std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// The `org/name` ids of the models in the local HF cache that [`resolve_model`] can load (a
/// snapshot with a `config.json` or a `.gguf` file), sorted. Reads folders: call it off the UI thread.
pub fn cached_hf_models() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(hf_cache_dir()) else { return Vec::new() };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("models--").map(|rest| rest.replacen("--", "/", 1)))
        .filter(|id| find_in_hf_cache(id).is_some_and(|dir| resolve_folder(&dir).is_ok()))
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pickles_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("pytorch_model.bin");
        std::fs::write(&bin, b"\x80\x02}q\x00.").unwrap();
        let err = resolve_model(bin.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("pytorch_model.bin") && err.contains("safetensors"), "{err}");
    }

    #[test]
    fn finds_snapshot_in_hf_cache() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join(["models", "acme", "tiny"].join("--"));
        std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
        std::env::set_var("HF_HUB_CACHE", dir.path());
        assert_eq!(find_in_hf_cache("acme/tiny"), Some(repo.join("snapshots/abc123")));
        assert_eq!(find_in_hf_cache("acme/other"), None);
        // Listed once the snapshot holds a model; an empty snapshot is not.
        assert!(cached_hf_models().is_empty());
        std::fs::write(repo.join("snapshots/abc123/config.json"), "{}").unwrap();
        assert_eq!(cached_hf_models(), vec!["acme/tiny".to_string()]);
        std::env::remove_var("HF_HUB_CACHE");
    }

    #[test]
    fn missing_model_explains_what_was_searched() {
        let err = resolve_model("/nonexistent/model-xyz").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/model-xyz") && err.contains("config.json"), "{err}");
    }
}
