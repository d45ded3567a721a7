//! What the loaded model is: its description rows and its chat template, rendered on an example
//! conversation in a monospace box, with the template's source below.

use super::loaded::{example_conversation, ModelView};
use eframe::egui;

/// A monospace box holding `text`, wrapped, selectable.
fn code_box(ui: &mut egui::Ui, text: &str) {
    egui::Frame::group(ui.style()).fill(ui.visuals().extreme_bg_color).show(ui, |ui| {
        ui.set_min_width(ui.available_width());
        ui.add(egui::Label::new(egui::RichText::new(text).monospace()).wrap().selectable(true));
    });
}

/// Draws the description rows.
pub fn description_ui(ui: &mut egui::Ui, view: &ModelView) {
    egui::Grid::new("model-description").num_columns(2).spacing([24.0, 4.0]).striped(true).show(ui, |ui| {
        for (label, value) in &view.rows {
            ui.label(*label);
            ui.add(egui::Label::new(value).wrap());
            ui.end_row();
        }
    });
}

/// Draws the chat template on the example conversation, and its source.
pub fn template_ui(ui: &mut egui::Ui, view: &ModelView) {
    let turns: Vec<String> = example_conversation().iter().map(|m| format!("{}: \"{}\"", m.role, m.content)).collect();
    let whose = if view.template.is_some() { "The model's chat template" } else { "This model ships no chat template, so ChatML" };
    ui.label(format!("{whose} renders the conversation {} (with the generation prompt) as:", turns.join(", ")));
    match &view.rendered {
        Ok(text) => code_box(ui, text),
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, format!("The template could not be rendered: {e}"));
        }
    }
    if let Some(source) = &view.template {
        egui::CollapsingHeader::new(format!("Template source ({} characters)", source.chars().count()))
            .id_salt("template-source")
            .show(ui, |ui| code_box(ui, source));
    }
}
