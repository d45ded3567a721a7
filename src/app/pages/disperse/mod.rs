//! The Disperse page: embed the data and split it into K portions through the pipeline, then
//! look at the split: the 2-D map, the portions' sizes, keywords and representative rows, and the
//! quality figures.

mod charts;
mod map;
pub mod map_data;
mod settings;

use super::{needs, Page, PageCtx};
use crate::app::task::Task;
use crate::engine::pipeline::plan::paths;
use crate::engine::pipeline::{Project, StageState};
use eframe::egui;
use map_data::MapData;
pub use settings::DisperseForm;
use std::sync::Arc;

/// The stages the page runs.
const STAGES: [&str; 3] = ["data", "embed", "cluster"];

/// State of the Disperse page.
#[derive(Default)]
pub struct DispersePage {
    /// The settings as the form shows them.
    pub form: DisperseForm,
    /// The split on show.
    pub map: Option<MapData>,
    /// The cluster stage's record the map was read for, so a new split is read once.
    shown_record: Option<(StageState, Option<String>, Option<u64>)>,
    loading: Option<Task<Result<MapData, String>>>,
    map_error: Option<String>,
    /// Portion drawn in colour while the others are greyed.
    pub highlight: Option<u32>,
    /// Row pinned in the side panel.
    pub pinned: Option<usize>,
    /// Row under the pointer in the last frame.
    pub hovered: Option<usize>,
}

impl DispersePage {
    /// Takes the project's settings into the form.
    pub fn follow(&mut self, project: &Arc<Project>, _ctx: &egui::Context) {
        self.form = DisperseForm::from_project(project);
    }

    /// Shows `map` (the bench and tests hand one in directly).
    pub fn show_map(&mut self, map: MapData) {
        self.map = Some(map);
        self.highlight = None;
        self.pinned = None;
    }

    /// Reads the split again when the cluster stage has a new record.
    fn reload_when_new(&mut self, cx: &PageCtx<'_>, ctx: &egui::Context) {
        let Some(project) = cx.workspace.project() else { return };
        let Some(status) = cx.workspace.status("cluster") else { return };
        if !matches!(status.state, StageState::Done | StageState::Stale) || self.loading.is_some() {
            return;
        }
        let record = (status.state, status.figure.clone(), status.seconds.map(f64::to_bits));
        if self.shown_record.as_ref() == Some(&record) {
            return;
        }
        self.shown_record = Some(record);
        let clusters = paths::clusters(&project.dir);
        let (data, options) = (project.data.clone(), project.data_options.clone());
        self.loading = Some(Task::spawn("read clusters", ctx, move || MapData::load(&clusters, &data, &options)));
    }

    fn poll(&mut self) {
        if let Some(result) = self.loading.as_mut().and_then(Task::poll) {
            self.loading = None;
            match result.and_then(|r| r) {
                Ok(map) => {
                    self.map_error = None;
                    self.show_map(map);
                }
                Err(e) => self.map_error = Some(e),
            }
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        self.poll();
        self.reload_when_new(cx, ui.ctx());
        ui.heading("Disperse");
        ui.label(
            "Instruction data is not one skill but many sources, each with its own habits: answer length, tone, \
             favourite phrases. Training on all of it at once lets the model learn these dataset-specific biases late in \
             training, and that is where the alignment tax comes from: the model forgets some of what it knew. Disperse \
             splits the data into K portions so that each sub-model picks up different biases; merging the sub-models \
             then averages the biases away while the instruction-following they share stays.",
        );
        ui.add_space(6.0);
        if cx.workspace.project().is_some() {
            settings::settings_ui(ui, &mut self.form, cx);
        } else if self.map.is_none() {
            needs(ui, cx, Page::Project, "a project (the data and how to split it)");
            return;
        }
        if let Some(e) = &self.map_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if self.loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the split…");
            });
        }
        if self.map.is_some() {
            ui.add_space(6.0);
            map::map_ui(self, ui);
            ui.add_space(10.0);
            if let Some(map) = &self.map {
                charts::charts_ui(map, ui);
            }
        } else if cx.workspace.project().is_some() && self.loading.is_none() {
            ui.add_space(12.0);
            let text = if cx.workspace.running().is_some() {
                "The map appears here when the split is done; the status bar below shows how far the run is."
            } else {
                "No split yet: choose the settings above and press Run disperse."
            };
            ui.label(egui::RichText::new(text).weak());
        }
    }
}
