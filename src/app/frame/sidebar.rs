//! The left sidebar: the steps of the method, each with its state badge.

use super::badge::Badge;
use crate::app::pages::Page;
use eframe::egui;

/// Draws the steps; returns the one clicked.
pub fn sidebar(ui: &mut egui::Ui, current: Page, badge_of: impl Fn(Page) -> Badge) -> Option<Page> {
    let mut chosen = None;
    ui.add_space(6.0);
    for (i, page) in Page::ALL.into_iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(format!("{}", i + 1)).weak().monospace());
            ui.vertical(|ui| {
                let text = egui::RichText::new(page.title()).strong().size(15.0);
                if ui.selectable_label(current == page, text).clicked() {
                    chosen = Some(page);
                }
                badge_of(page).show(ui);
            });
        });
        ui.add_space(4.0);
    }
    chosen
}
