//! The validation report's problems, one per line: where (line), what kind, which field and what
//! is wrong. Clicking one shows its record.

use super::view::DataView;
use crate::app::widgets::row::{clickable_row, header_row, Cell};
use crate::engine::data::{Issue, IssueKind};
use eframe::egui::{self, Color32, RichText};

/// Every kind, in the order the filter lists them.
const KINDS: [IssueKind; 5] = [IssueKind::Malformed, IssueKind::Empty, IssueKind::Duplicate, IssueKind::Trimmed, IssueKind::OverLong];

/// A kind's name as the list shows it.
pub fn kind_name(kind: IssueKind) -> &'static str {
    match kind {
        IssueKind::Malformed => "malformed",
        IssueKind::Empty => "empty",
        IssueKind::Duplicate => "duplicate",
        IssueKind::Trimmed => "trimmed",
        IssueKind::OverLong => "over max length",
    }
}

/// What happens to a record of this kind.
pub fn kind_effect(kind: IssueKind) -> &'static str {
    match kind {
        IssueKind::Malformed => "skipped: it could not be read",
        IssueKind::Empty => "skipped: no prompt or no response",
        IssueKind::Duplicate => "the same as an earlier record",
        IssueKind::Trimmed => "a dangling turn was removed",
        IssueKind::OverLong => "truncated when training",
    }
}

fn kind_color(ui: &egui::Ui, kind: IssueKind) -> Color32 {
    match kind {
        IssueKind::Malformed | IssueKind::Empty => ui.visuals().error_fg_color,
        IssueKind::Duplicate | IssueKind::OverLong => ui.visuals().warn_fg_color,
        IssueKind::Trimmed => ui.visuals().weak_text_color(),
    }
}

/// Where an issue is, as the list shows it: "line 3", or "row 3" without lines.
pub fn place(issue: &Issue) -> String {
    if issue.line > 0 {
        format!("line {}", issue.line)
    } else {
        format!("row {}", issue.row)
    }
}

/// Draws the list; returns the issue clicked (its index in the report).
pub fn issues_ui(ui: &mut egui::Ui, view: &DataView, kind: &mut Option<IssueKind>, selected: Option<usize>, height: f32) -> Option<usize> {
    let report = &view.report;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Validation").strong());
        if report.issues_total == 0 {
            return;
        }
        let count = |k: IssueKind| report.issues.iter().filter(|i| i.kind == k).count();
        let shown = |k: &Option<IssueKind>| match k {
            None => format!("all kinds ({})", report.issues.len()),
            Some(k) => format!("{} ({})", kind_name(*k), count(*k)),
        };
        let combo = egui::ComboBox::from_id_salt("issue-kind").selected_text(shown(kind)).show_ui(ui, |ui| {
            ui.selectable_value(kind, None, shown(&None));
            for k in KINDS.into_iter().filter(|k| count(*k) > 0) {
                ui.selectable_value(kind, Some(k), shown(&Some(k)));
            }
        });
        combo.response.accessible_name("Kinds of problem listed");
        if report.issues_total > report.issues.len() {
            ui.label(RichText::new(format!("the first {} of {} are listed", report.issues.len(), report.issues_total)).weak());
        }
    });
    if report.issues_total == 0 {
        ui.label("No problems found: every record was read, none is empty or repeated.");
        return None;
    }
    let listed: Vec<usize> = (0..report.issues.len()).filter(|&i| kind.is_none_or(|k| report.issues[i].kind == k)).collect();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let width = ui.available_width() - 16.0;
    // The field column only when some problem names a field (duplicates and lengths do not).
    let field_width = if report.issues.iter().any(|i| i.field.is_some()) { 84.0 } else { 0.0 };
    let w = [84.0, 124.0, field_width, (width - 208.0 - field_width).max(120.0)];
    header_row(ui, row_height, &[Cell::new("where", w[0]), Cell::new("kind", w[1]), Cell::new("field", w[2]), Cell::new("problem", w[3])]);
    let mut clicked = None;
    egui::ScrollArea::vertical().id_salt("data-issues").auto_shrink([false, true]).max_height(height).show_rows(
        ui,
        row_height,
        listed.len(),
        |ui, range| {
            for &i in &listed[range] {
                let issue = &report.issues[i];
                let at = place(issue);
                let field = issue.field.clone().unwrap_or_default();
                let cells = [
                    Cell::new(&at, w[0]),
                    Cell::new(kind_name(issue.kind), w[1]).color(kind_color(ui, issue.kind)),
                    Cell::new(&field, w[2]),
                    Cell::new(&issue.message, w[3]),
                ];
                let label = || format!("{}: {issue}", kind_name(issue.kind));
                let response = clickable_row(ui, row_height, selected == Some(i), label, &cells);
                if response.clicked() {
                    clicked = Some(i);
                }
                response.on_hover_ui(|ui| {
                    ui.label(format!("{at}: {} ({})", issue.message, kind_effect(issue.kind)));
                });
            }
        },
    );
    clicked
}
