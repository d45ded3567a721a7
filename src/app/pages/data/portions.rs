//! Each example's portion, from `disperse/clusters.json` once the project's cluster stage is
//! done; read on a worker, again whenever the stage has a new record.

use crate::app::pages::disperse::map_data::portion_colors;
use crate::app::task::Task;
use crate::app::workspace::Workspace;
use crate::engine::cluster::ClustersFile;
use crate::engine::pipeline::plan::paths;
use crate::engine::pipeline::StageState;
use eframe::egui;

/// What the page needs of a split.
#[derive(Debug, Clone)]
pub struct Split {
    /// Portion of each example, in data order.
    pub assignment: Vec<u32>,
    /// SHA-256 of the data file the split was made from.
    pub data_sha256: String,
    /// One colour per portion.
    pub colors: Vec<egui::Color32>,
}

/// The project's split as the Data page knows it.
#[derive(Default)]
pub struct Portions {
    /// The split, when read.
    pub split: Option<Split>,
    /// Why it could not be read.
    pub error: Option<String>,
    loading: Option<Task<Result<Split, String>>>,
    record: Option<(StageState, Option<String>, Option<u64>)>,
}

impl Portions {
    /// Forgets the split (another project or no project).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Takes in a finished reading and starts one when the cluster stage has a new record.
    pub fn update(&mut self, workspace: &Workspace, ctx: &egui::Context) {
        if let Some(result) = self.loading.as_mut().and_then(Task::poll) {
            self.loading = None;
            match result.and_then(|r| r) {
                Ok(split) => (self.split, self.error) = (Some(split), None),
                Err(e) => (self.split, self.error) = (None, Some(e)),
            }
        }
        let Some(project) = workspace.project() else {
            if self.record.is_some() || self.split.is_some() {
                self.clear();
            }
            return;
        };
        let Some(status) = workspace.status("cluster").filter(|s| matches!(s.state, StageState::Done | StageState::Stale)) else {
            self.split = None;
            self.record = None;
            return;
        };
        let record = (status.state, status.figure.clone(), status.seconds.map(f64::to_bits));
        if self.loading.is_some() || self.record.as_ref() == Some(&record) {
            return;
        }
        self.record = Some(record);
        let path = paths::clusters(&project.dir);
        self.loading = Some(Task::spawn("read portions", ctx, move || {
            let file = ClustersFile::load(&path).map_err(|e| e.to_string())?;
            Ok(Split { colors: portion_colors(file.k), assignment: file.assignment, data_sha256: file.data_sha256 })
        }));
    }

    /// The split when it was made from the data with `sha256` and `rows` examples, else why not.
    pub fn matching(&self, sha256: &str, rows: usize) -> Result<Option<&Split>, String> {
        match &self.split {
            Some(s) if s.data_sha256 == sha256 && s.assignment.len() == rows => Ok(Some(s)),
            Some(_) => Err("the split on disk was made from another version of this file: run Disperse again to see the portions".into()),
            None => Ok(None),
        }
    }
}
