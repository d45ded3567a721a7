//! The status bar: the running stage with its progress, time left and tokens per second, and
//! the process's memory.

use crate::app::activity::Activity;
use crate::engine::memory::bytes_text;
use eframe::egui;
use std::time::Duration;

/// "1 h 02 min", "4 min 05 s", "12 s".
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Draws the bar. `memory` is the process's resident memory, sampled off the UI thread.
pub fn status_bar(ui: &mut egui::Ui, activity: &Activity, memory: Option<u64>) {
    ui.horizontal(|ui| {
        match activity.current() {
            Some(stage) => {
                ui.spinner();
                ui.label(egui::RichText::new(&stage.stage).strong());
                if let Some(f) = stage.fraction() {
                    ui.add(egui::ProgressBar::new(f).desired_width(180.0).show_percentage());
                    ui.label(format!("{} / {}", stage.step, stage.total));
                }
                if let Some(eta) = stage.eta() {
                    ui.label(format!("about {} left", duration_text(eta)));
                }
                if let Some(tps) = stage.tokens_per_second() {
                    ui.label(format!("{tps:.0} tok/s"));
                }
                if !stage.detail.is_empty() {
                    ui.label(egui::RichText::new(&stage.detail).weak());
                }
            }
            None => {
                ui.label(egui::RichText::new("Idle").weak());
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(bytes) = memory {
                ui.label(format!("memory {}", bytes_text(bytes)));
            }
        });
    });
}
