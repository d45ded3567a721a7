//! What the window remembers between sessions (through eframe's storage): theme, zoom, the last
//! and recent projects, the log panel and the device for work outside a project. Window size and
//! panel sizes are kept by eframe and egui themselves.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Recent projects listed.
const MAX_RECENT: usize = 8;

/// The remembered settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Dark theme (else light).
    pub dark: bool,
    /// UI zoom (Ctrl +/- changes it; 1.0 is 100%).
    pub zoom: f32,
    /// The project open when the window closed.
    pub last_project: Option<PathBuf>,
    /// Projects opened recently, newest first.
    pub recent: Vec<PathBuf>,
    /// Whether the log panel is open.
    pub log_open: bool,
    /// The device for work outside a project ("auto", "cpu", "cuda:0").
    pub device: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self { dark: true, zoom: 1.0, last_project: None, recent: Vec::new(), log_open: true, device: "auto".into() }
    }
}

impl Settings {
    /// Puts `dir` first in the recent list and remembers it as the last project.
    pub fn opened(&mut self, dir: &Path) {
        self.recent.retain(|p| p != dir);
        self.recent.insert(0, dir.to_path_buf());
        self.recent.truncate(MAX_RECENT);
        self.last_project = Some(dir.to_path_buf());
    }
}
