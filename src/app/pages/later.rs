//! The steps after Disperse (training, merging, comparison and the playground) as the pipeline
//! records them: each stage's state, time and key figure, and a button that runs the step.

use super::{needs, Page, PageCtx};
use crate::app::frame::badge::Badge;
use crate::engine::pipeline::plan::glob_match;
use eframe::egui;

/// Draws `page` for the stages it covers.
pub fn later_ui(ui: &mut egui::Ui, page: Page, cx: &mut PageCtx<'_>) {
    ui.heading(page.title());
    let Some(_) = cx.workspace.project() else {
        needs(ui, cx, Page::Project, "a project");
        return;
    };
    if page == Page::Playground {
        ui.label("Prompt the base model, the vanilla model, the sub-models and the merges side by side once they are trained.");
        return;
    }
    let patterns = page.stages();
    let rows: Vec<_> = cx.workspace.statuses.iter().filter(|s| patterns.iter().any(|p| glob_match(p, &s.stage))).cloned().collect();
    egui::Grid::new(("stages", page.title())).num_columns(4).striped(true).show(ui, |ui| {
        for s in &rows {
            ui.label(egui::RichText::new(&s.stage).monospace());
            Badge::of(Some(s.state)).show(ui);
            ui.label(s.seconds.map(|x| format!("{x:.1} s")).unwrap_or_default());
            ui.label(s.figure.clone().unwrap_or_default());
            ui.end_row();
        }
    });
    ui.add_space(8.0);
    let running = cx.workspace.running().map(str::to_string);
    ui.horizontal(|ui| {
        let label = format!("Run {}", page.title().to_lowercase());
        if ui.add_enabled(running.is_none(), egui::Button::new(label)).clicked() {
            let only = patterns.iter().map(|p| p.to_string()).collect();
            cx.workspace.run(&page.title().to_lowercase(), only, ui.ctx(), cx.activity);
        }
        if let Some(label) = running {
            ui.spinner();
            ui.label(format!("{label} is running"));
            if ui.button("Stop").clicked() {
                cx.workspace.cancel_run();
            }
        }
    });
}
