//! The state badge of a step: not started, running, done, stale or failed.

use crate::engine::pipeline::StageState;
use eframe::egui::{self, Color32};

/// A step's state as the sidebar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Badge {
    /// Nothing done yet.
    NotStarted,
    /// Work in progress.
    Running,
    /// Done with the current settings.
    Done,
    /// Done once, but a setting or an input changed since.
    Stale,
    /// Failed with the current settings.
    Failed,
}

impl Badge {
    /// The badge of a combined stage state (`None`: no stage yet).
    pub fn of(state: Option<StageState>) -> Self {
        match state {
            Some(StageState::Done) => Self::Done,
            Some(StageState::Running) => Self::Running,
            Some(StageState::Stale) => Self::Stale,
            Some(StageState::Failed) => Self::Failed,
            Some(StageState::Pending) | None => Self::NotStarted,
        }
    }

    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            Self::NotStarted => "not started",
            Self::Running => "running",
            Self::Done => "done",
            Self::Stale => "stale",
            Self::Failed => "failed",
        }
    }

    /// The badge's colour, readable on both themes.
    pub fn color(self, visuals: &egui::Visuals) -> Color32 {
        match self {
            Self::NotStarted => visuals.weak_text_color(),
            Self::Running => Color32::from_rgb(60, 140, 230),
            Self::Done => Color32::from_rgb(40, 160, 80),
            Self::Stale => Color32::from_rgb(210, 150, 20),
            Self::Failed => visuals.error_fg_color,
        }
    }

    /// Draws the badge: a dot and the word.
    pub fn show(self, ui: &mut egui::Ui) {
        let color = self.color(ui.visuals());
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            let (rect, _) = ui.allocate_exact_size(egui::vec2(8.0, 8.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 4.0, color);
            ui.label(egui::RichText::new(self.word()).small().color(color));
        });
    }
}
