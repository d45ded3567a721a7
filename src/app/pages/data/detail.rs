//! The record picked in the table or the issue list, in full: its turns, system prompt, other
//! fields, token count, portion and problems; for a skipped record, its text as in the file.

use super::issues::{kind_effect, kind_name, place};
use super::view::DataView;
use eframe::egui::{self, RichText};

/// What is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// An example (its index in the view).
    Example(usize),
    /// A record that was skipped, through its issue (index in the report).
    Skipped(usize),
}

/// A block of text that can be selected and copied.
fn text_block(ui: &mut egui::Ui, title: &str, text: &str, monospace: bool) {
    ui.label(RichText::new(title).strong());
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let text = if monospace { RichText::new(text).monospace() } else { RichText::new(text) };
        ui.add(egui::Label::new(text).selectable(true).wrap());
    });
    ui.add_space(4.0);
}

/// Draws the panel for `selection`; `portion` is the example's portion when known.
pub fn detail_ui(ui: &mut egui::Ui, view: &DataView, selection: Selection, portion: Option<u32>) {
    match selection {
        Selection::Example(i) => example_ui(ui, view, i, portion),
        Selection::Skipped(i) => skipped_ui(ui, view, i),
    }
}

fn example_ui(ui: &mut egui::Ui, view: &DataView, i: usize, portion: Option<u32>) {
    let Some(ex) = view.examples.get(i) else { return };
    let title = if ex.line > 0 { format!("Line {} · record {}", ex.line, ex.row) } else { format!("Record {}", ex.row) };
    ui.label(RichText::new(title).size(17.0).strong());
    let mut facts = Vec::new();
    if let Some(n) = view.tokens.as_ref().map(|t| t[i]) {
        let cut = view.histogram.as_ref().map(|h| h.max_len).filter(|&m| n > m);
        facts.push(match cut {
            Some(m) => format!("{n} tokens (over {m}: truncated)"),
            None => format!("{n} tokens"),
        });
    }
    if let Some(p) = portion {
        facts.push(format!("portion {p}"));
    }
    if !facts.is_empty() {
        ui.label(facts.join(" · "));
    }
    for issue in view.report.issues.iter().filter(|is| is.row == ex.row) {
        let field = issue.field.as_deref().map(|f| format!("field '{f}' ")).unwrap_or_default();
        ui.colored_label(ui.visuals().warn_fg_color, format!("{}: {field}{}", kind_name(issue.kind), issue.message));
    }
    ui.add_space(4.0);
    if let Some(system) = &ex.system {
        text_block(ui, "System", system, false);
    }
    let turns = ex.turns.len();
    let mut user_turn = 0;
    for turn in &ex.turns {
        let title = match turn.role.as_str() {
            "user" => {
                user_turn += 1;
                if turns > 2 {
                    format!("User (turn {user_turn})")
                } else {
                    "Instruction".to_string()
                }
            }
            "assistant" if turns > 2 => format!("Assistant (turn {user_turn})"),
            "assistant" => "Output".to_string(),
            other => other.to_string(),
        };
        if title == "Instruction" && !ex.input_text().is_empty() {
            text_block(ui, "Instruction", &super::view::instruction_only(ex), false);
            text_block(ui, "Input", ex.input_text(), false);
        } else {
            text_block(ui, &title, &turn.content, false);
        }
    }
    let others: Vec<_> = ex.fields.iter().filter(|(k, _)| k.as_str() != crate::engine::data::Example::INPUT_FIELD).collect();
    if !others.is_empty() {
        ui.label(RichText::new("Other fields").strong());
        egui::Grid::new("data-detail-fields").num_columns(2).striped(true).show(ui, |ui| {
            for (k, v) in others {
                ui.label(RichText::new(k).monospace());
                ui.add(egui::Label::new(v).selectable(true).wrap());
                ui.end_row();
            }
        });
    }
}

fn skipped_ui(ui: &mut egui::Ui, view: &DataView, i: usize) {
    let Some(issue) = view.report.issues.get(i) else { return };
    let verb = if issue.kind == crate::engine::data::IssueKind::Duplicate { "dropped" } else { "skipped" };
    let title = format!("Record {} ({}) was {verb}", issue.row, place(issue));
    ui.label(RichText::new(title).size(17.0).strong());
    let field = issue.field.as_deref().map(|f| format!("field '{f}' ")).unwrap_or_default();
    ui.colored_label(ui.visuals().error_fg_color, format!("{}: {field}{}", kind_name(issue.kind), issue.message));
    ui.label(RichText::new(kind_effect(issue.kind)).weak());
    ui.add_space(4.0);
    match view.excerpts.get(&issue.line) {
        Some(text) => text_block(ui, &format!("As in the file, from line {}", issue.line), text, true),
        None if issue.line == 0 => {
            ui.label(RichText::new("This file has no lines (Parquet), so the record's text cannot be shown.").weak());
        }
        None => {
            let why = view.excerpt_error.clone().unwrap_or_else(|| "the line is past the end of the file".into());
            ui.label(RichText::new(format!("The record's text could not be read: {why}")).weak());
        }
    }
}
