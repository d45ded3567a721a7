//! What the window opens on: a project, a data file or a model, from `dtm-studio open PATH`, a
//! drop onto the window or a file dialog. Told apart by name and kind only (one `stat`), so the
//! UI thread never reads a file to decide.

use super::pages::Page;
use crate::engine::pipeline::PROJECT_FILE;
use std::path::{Path, PathBuf};

/// Data file extensions the loader reads.
const DATA_EXTENSIONS: [&str; 5] = ["jsonl", "json", "csv", "parquet", "ndjson"];

/// Something to open.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenTarget {
    /// A project folder (holding, or to hold, a `dtm.toml`).
    Project(PathBuf),
    /// An instruction data file.
    Data(PathBuf),
    /// A model: a `.gguf` file, an HF folder or a cached HF id.
    Model(String),
}

impl OpenTarget {
    /// What `path` is: a `dtm.toml` or a folder with one is a project, a folder with a
    /// `config.json` or a `.gguf` file is a model, a data file is data; any other folder is
    /// taken as a project folder (the Project page then offers to create one there).
    pub fn of_path(path: &Path) -> Result<Self, String> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if name == PROJECT_FILE {
            return Ok(Self::Project(path.parent().map(Path::to_path_buf).unwrap_or_default()));
        }
        if path.is_dir() {
            if path.join(PROJECT_FILE).is_file() || !path.join("config.json").is_file() {
                return Ok(Self::Project(path.to_path_buf()));
            }
            return Ok(Self::Model(path.display().to_string()));
        }
        if ext == "gguf" {
            return Ok(Self::Model(path.display().to_string()));
        }
        if DATA_EXTENSIONS.contains(&ext.as_str()) {
            return Ok(Self::Data(path.to_path_buf()));
        }
        if !path.exists() && name.contains('/') {
            return Ok(Self::Model(path.display().to_string()));
        }
        Err(format!(
            "{}: not a project (dtm.toml or its folder), a data file ({}) or a model (.gguf or an HF folder)",
            path.display(),
            DATA_EXTENSIONS.join(", ")
        ))
    }

    /// The page that shows it.
    pub fn page(&self) -> Page {
        match self {
            Self::Project(_) => Page::Project,
            Self::Data(_) => Page::Data,
            Self::Model(_) => Page::BaseModel,
        }
    }
}

/// How the window starts: what to open and on which page.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// What to open (else the last project).
    pub target: Option<OpenTarget>,
    /// The page to show (else the target's page).
    pub page: Option<Page>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("config.json"), "{}").unwrap();
        assert_eq!(OpenTarget::of_path(dir.path()).unwrap(), OpenTarget::Project(dir.path().to_path_buf()));
        assert_eq!(OpenTarget::of_path(&dir.path().join("dtm.toml")).unwrap(), OpenTarget::Project(dir.path().to_path_buf()));
        assert_eq!(OpenTarget::of_path(&model).unwrap(), OpenTarget::Model(model.display().to_string()));
        assert!(matches!(OpenTarget::of_path(Path::new("x/y.gguf")).unwrap(), OpenTarget::Model(_)));
        assert!(matches!(OpenTarget::of_path(Path::new("x/y.JSONL")).unwrap(), OpenTarget::Data(_)));
        assert!(OpenTarget::of_path(Path::new("x/y.png")).unwrap_err().contains("not a project"));
    }
}
