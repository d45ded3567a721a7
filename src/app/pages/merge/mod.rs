//! The Merge page: the merge method and weights, a live preview of the merged model's scores, and export.

use super::later::later_ui;
use super::{Page, PageCtx};
use eframe::egui;

/// State of the Merge page.
#[derive(Default)]
pub struct MergePage {}

impl MergePage {
    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        later_ui(ui, Page::Merge, cx);
    }
}
