//! The Playground: one prompt answered by several models side by side, streamed.

use super::later::later_ui;
use super::{Page, PageCtx};
use eframe::egui;

/// State of the Playground page.
#[derive(Default)]
pub struct PlaygroundPage {}

impl PlaygroundPage {
    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        later_ui(ui, Page::Playground, cx);
    }
}
