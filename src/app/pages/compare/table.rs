//! The Compare page's table: one row per benchmark metric, one column per model, each cell the
//! value ± its standard error and, for models other than the base, the tax against the base;
//! and buttons that copy the table as Markdown or CSV.

use super::data::{shown_value, View};
use eframe::egui::{self, RichText};

/// The text of a cell: value ± standard error.
pub fn cell_text(row: &crate::engine::eval::comparison::Row, i: usize) -> Option<String> {
    let v = row.values.get(i).copied().flatten()?;
    Some(format!("{} ± {}", shown_value(row, v.value), shown_value(row, v.stderr)))
}

/// The tax line of a cell.
fn tax_text(row: &crate::engine::eval::comparison::Row, i: usize) -> Option<String> {
    let t = row.taxes.get(i).copied().flatten()?;
    let sign = if t.tax >= 0.0 { "+" } else { "-" };
    let paired = if t.paired { "" } else { ", unpaired" };
    Some(format!("tax {sign}{} ± {}{paired}", shown_value(row, t.tax.abs()), shown_value(row, t.stderr)))
}

/// What a copy button put on the clipboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// The Markdown table.
    Markdown,
    /// The CSV lines.
    Csv,
}

/// Draws the table and the copy buttons; returns what was copied this frame.
pub fn table_ui(ui: &mut egui::Ui, view: &View) -> Option<Copied> {
    let mut copied = None;
    ui.horizontal(|ui| {
        if ui.button("Copy as Markdown").on_hover_text("Values and taxes in points, ± one standard error").clicked() {
            ui.ctx().copy_text(view.markdown.clone());
            copied = Some(Copied::Markdown);
        }
        if ui.button("Copy as CSV").on_hover_text("One line per benchmark, metric and model; raw fractions").clicked() {
            ui.ctx().copy_text(view.csv.clone());
            copied = Some(Copied::Csv);
        }
    });
    egui::ScrollArea::horizontal().id_salt("compare-table").show(ui, |ui| {
        egui::Grid::new("compare-grid").striped(true).spacing([18.0, 6.0]).show(ui, |ui| {
            ui.label(RichText::new("benchmark").strong());
            ui.label(RichText::new("metric").strong());
            for (i, m) in view.models.iter().enumerate() {
                let title = if Some(i) == view.base { format!("{m} (base)") } else { m.clone() };
                ui.label(RichText::new(title).strong());
            }
            ui.end_row();
            for row in &view.rows {
                ui.label(&row.benchmark);
                ui.label(RichText::new(&row.metric).monospace());
                for i in 0..view.models.len() {
                    ui.vertical(|ui| {
                        let value = cell_text(row, i).unwrap_or_else(|| "-".into());
                        ui.add(egui::Label::new(value).wrap_mode(egui::TextWrapMode::Extend));
                        if let Some(tax) = tax_text(row, i) {
                            ui.add(egui::Label::new(RichText::new(tax).small().weak()).wrap_mode(egui::TextWrapMode::Extend));
                        }
                    });
                }
                ui.end_row();
            }
        });
    });
    copied
}
