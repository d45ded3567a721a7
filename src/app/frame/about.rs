//! The About window: version, commit, features, the devices found, the licence and the paper.

use crate::app::frame::top_bar::device_text;
use crate::build_info;
use crate::engine::device::DeviceInfo;
use eframe::egui;

/// The window's title (also its accessible name).
pub const ABOUT_TITLE: &str = "About DTM Studio";

/// Shows the About window while `open` is true; its close button and Escape set `open` to
/// false. `devices` is the window's device list (empty while it is being gathered).
pub fn about_window(ctx: &egui::Context, open: &mut bool, devices: &[DeviceInfo]) {
    if *open && ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        *open = false;
    }
    egui::Window::new(ABOUT_TITLE)
        .open(open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| about_ui(ui, devices));
}

/// The window's contents.
fn about_ui(ui: &mut egui::Ui, devices: &[DeviceInfo]) {
    ui.set_max_width(520.0);
    ui.label(egui::RichText::new("DTM Studio").strong().size(18.0));
    ui.label(env!("CARGO_PKG_DESCRIPTION"));
    ui.add_space(6.0);
    egui::Grid::new("about-facts").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
        let row = |ui: &mut egui::Ui, key: &str, value: &str| {
            ui.label(egui::RichText::new(key).weak());
            ui.label(value);
            ui.end_row();
        };
        row(ui, "Version", build_info::VERSION);
        row(ui, "Commit", build_info::COMMIT);
        row(ui, "Features", build_info::FEATURES);
        row(ui, "Licence", build_info::LICENSE);
        ui.label(egui::RichText::new("Devices").weak());
        ui.vertical(|ui| {
            if devices.is_empty() {
                ui.label("looking for devices…");
            }
            for d in devices {
                ui.label(device_text(d));
            }
        });
        ui.end_row();
    });
    ui.add_space(6.0);
    ui.label("The method:");
    ui.hyperlink_to(build_info::PAPER_TITLE, build_info::PAPER_URL).on_hover_text(build_info::PAPER_URL);
}
