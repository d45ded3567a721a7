//! The file at a glance: its format and the validation report's counts.

use super::view::DataView;
use crate::engine::data::DataFormat;
use eframe::egui::{self, RichText};

/// The format as users know it.
pub fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Alpaca => "Alpaca (instruction / input / output)",
        DataFormat::ShareGpt => "ShareGPT (conversations)",
        DataFormat::Messages => "OpenAI chat (messages)",
        DataFormat::Csv => "CSV",
        DataFormat::Parquet => "Parquet",
    }
}

/// Draws the format line and the counts.
pub fn summary_ui(ui: &mut egui::Ui, view: &DataView) {
    let r = &view.report;
    ui.horizontal_wrapped(|ui| {
        let name = view.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| view.path.display().to_string());
        ui.label(RichText::new(name).strong()).on_hover_text(view.path.display().to_string());
        ui.label(format!("· format: {}", format_name(view.format)));
    });
    let dropped = if r.duplicates_dropped > 0 { format!(" ({} dropped)", r.duplicates_dropped) } else { " (kept)".into() };
    let counts: [(&str, String, &str); 8] = [
        ("records", r.records.to_string(), "records in the file: rows, lines or array elements, good or bad"),
        ("examples", r.examples.to_string(), "examples kept for training"),
        ("malformed", r.malformed.to_string(), "records that could not be read (skipped)"),
        ("empty", r.empty.to_string(), "records without a prompt or a response (skipped)"),
        (
            "duplicates",
            format!("{}{}", r.duplicates, if r.duplicates > 0 { dropped.as_str() } else { "" }),
            "records the same as an earlier one (system prompt and every turn)",
        ),
        ("multi-turn", r.multi_turn.to_string(), "examples with more than one assistant turn"),
        ("with system prompt", r.with_system.to_string(), "examples with a system prompt"),
        ("trimmed turns", r.trimmed_turns.to_string(), "dangling turns removed (a leading assistant or a trailing user turn)"),
    ];
    ui.horizontal_wrapped(|ui| {
        for (name, value, hint) in counts {
            let bad = matches!(name, "malformed" | "empty") && value != "0";
            egui::Frame::group(ui.style())
                .inner_margin(egui::Margin::symmetric(8, 3))
                .show(ui, |ui| {
                    ui.vertical(|ui| {
                        let value = RichText::new(value).heading();
                        ui.label(if bad { value.color(ui.visuals().error_fg_color) } else { value });
                        ui.label(RichText::new(name).small().weak());
                    });
                })
                .response
                .on_hover_text(hint);
        }
    });
}
