//! The Compare page: benchmark scores of the models side by side, the alignment tax, and the items whose answer changed.

use super::later::later_ui;
use super::{Page, PageCtx};
use eframe::egui;

/// State of the Compare page.
#[derive(Default)]
pub struct ComparePage {}

impl ComparePage {
    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        later_ui(ui, Page::Compare, cx);
    }
}
