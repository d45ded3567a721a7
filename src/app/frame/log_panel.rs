//! The log panel: engine events and warnings, newest last, filterable by text and severity.

use crate::app::activity::{Activity, Severity};
use eframe::egui;

/// What the log shows.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Only lines containing this (case-insensitive).
    pub text: String,
    /// Only warnings and errors.
    pub problems_only: bool,
}

/// Draws the log with its filter row.
pub fn log_panel(ui: &mut egui::Ui, activity: &Activity, filter: &mut LogFilter) {
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("Log").strong());
        ui.add(egui::TextEdit::singleline(&mut filter.text).hint_text("filter").desired_width(200.0));
        ui.checkbox(&mut filter.problems_only, "warnings and errors only");
        ui.label(egui::RichText::new(format!("{} lines", activity.log.len())).weak());
    });
    let needle = filter.text.to_lowercase();
    let lines: Vec<_> = activity
        .log
        .iter()
        .filter(|l| !filter.problems_only || l.severity != Severity::Info)
        .filter(|l| needle.is_empty() || l.text.to_lowercase().contains(&needle) || l.source.to_lowercase().contains(&needle))
        .collect();
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    egui::ScrollArea::vertical().auto_shrink([false, false]).stick_to_bottom(true).show_rows(ui, row_height, lines.len(), |ui, range| {
        for line in &lines[range] {
            let color = match line.severity {
                Severity::Info => ui.visuals().text_color(),
                Severity::Warning => ui.visuals().warn_fg_color,
                Severity::Error => ui.visuals().error_fg_color,
            };
            let text = format!("{:>8.1}s  {:<12} {}", line.seconds, line.source, line.text);
            ui.add(egui::Label::new(egui::RichText::new(text).monospace().color(color)).truncate());
        }
    });
}
