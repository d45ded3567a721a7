//! The cluster map with its side panel: the legend (click a portion to highlight it), the row
//! under the pointer and the pinned row.

use super::DispersePage;
use eframe::egui::{self, Color32, RichText};

/// Width of the side panel beside the map.
const SIDE_WIDTH: f32 = 330.0;

/// The first `n` characters of `text`, with an ellipsis when cut.
pub fn cut(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn swatch(ui: &mut egui::Ui, color: Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, color);
}

/// Draws the map and its side panel.
pub fn map_ui(page: &mut DispersePage, ui: &mut egui::Ui) {
    let Some(map) = page.map.as_mut() else { return };
    let width = (ui.available_width() - SIDE_WIDTH - 12.0).max(280.0);
    // The map and the text above it fit in the window; the charts follow below.
    let window_height = ui.ctx().content_rect().height();
    let height = (width * 0.62).min(window_height - 330.0).clamp(280.0, 640.0);
    let p = &map.clusters.projection;
    ui.label(
        RichText::new(format!(
            "{} rows on the first two principal components of their embeddings ({:.0}% and {:.0}% of the variance). \
             Drag to move, scroll to zoom, double-click to see all; click a point to pin its row.",
            map.clusters.rows,
            p.explained_variance_ratio[0] * 100.0,
            p.explained_variance_ratio[1] * 100.0
        ))
        .weak(),
    );
    ui.horizontal_top(|ui| {
        let marked: Vec<usize> = page.pinned.into_iter().collect();
        let out = map.scatter.show(ui, egui::vec2(width, height), &map.colors, page.highlight, &marked);
        page.hovered = out.hovered;
        if let Some(i) = out.clicked {
            page.pinned = Some(i);
        }
        if let Some(i) = out.hovered {
            let row = &map.rows[i];
            let portion = map.clusters.assignment[i];
            out.response.on_hover_ui_at_pointer(|ui| {
                ui.set_max_width(380.0);
                ui.label(RichText::new(format!("portion {portion} · line {}", row.line)).small().weak());
                ui.label(cut(&row.instruction, 300));
            });
        }
        ui.vertical(|ui| {
            ui.set_width(SIDE_WIDTH);
            ui.label(RichText::new("Portions").strong());
            ui.label(RichText::new("Click one to highlight it; the rest stay, greyed.").small().weak());
            for portion in &map.clusters.portions {
                let id = portion.id as u32;
                let selected = page.highlight == Some(id);
                ui.horizontal(|ui| {
                    swatch(ui, map.colors.get(portion.id).copied().unwrap_or(Color32::GRAY));
                    let words: Vec<&str> = portion.keywords.iter().take(3).map(|k| k.word.as_str()).collect();
                    let name = portion.label.clone().unwrap_or_else(|| format!("Portion {}", portion.id));
                    let text = format!(
                        "{name} · {} rows{}",
                        portion.size,
                        if words.is_empty() { String::new() } else { format!(" · {}", words.join(", ")) }
                    );
                    if ui.selectable_label(selected, text).clicked() {
                        page.highlight = if selected { None } else { Some(id) };
                    }
                });
            }
            ui.horizontal(|ui| {
                if page.highlight.is_some() && ui.small_button("Show all in colour").clicked() {
                    page.highlight = None;
                }
                if map.scatter.is_moved() && ui.small_button("Fit the whole map").clicked() {
                    map.scatter.reset_view();
                }
            });
            ui.separator();
            ui.label(RichText::new("Under the pointer").strong());
            match page.hovered {
                Some(i) => {
                    ui.label(RichText::new(format!("portion {} · line {}", map.clusters.assignment[i], map.rows[i].line)).small().weak());
                    ui.label(cut(&map.rows[i].instruction, 240));
                }
                None => {
                    ui.label(RichText::new("Point at a dot to read its instruction.").weak());
                }
            }
            if let Some(i) = page.pinned {
                ui.separator();
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Pinned row").strong());
                    if ui.small_button("Unpin").clicked() {
                        page.pinned = None;
                    }
                });
                let row = &map.rows[i];
                ui.label(RichText::new(format!("portion {} · row {} · line {}", map.clusters.assignment[i], i, row.line)).small().weak());
                egui::ScrollArea::vertical().id_salt("pinned").max_height(220.0).show(ui, |ui| {
                    ui.label(RichText::new("Instruction").small().strong());
                    ui.label(&row.instruction);
                    ui.label(RichText::new("Response").small().strong());
                    ui.label(&row.response);
                });
            }
        });
    });
}
