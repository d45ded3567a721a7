//! The Train page: the training settings, the queue of runs and their live loss curves.

use super::later::later_ui;
use super::{Page, PageCtx};
use eframe::egui;

/// State of the Train page.
#[derive(Default)]
pub struct TrainPage {}

impl TrainPage {
    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        later_ui(ui, Page::Train, cx);
    }
}
