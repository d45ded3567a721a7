//! The top bar: the project's name, open / new / recent, the device picker, theme, zoom and About.

use crate::app::settings::Settings;
use crate::engine::device::{DeviceInfo, DeviceRequest};
use crate::engine::memory::bytes_text;
use eframe::egui;
use std::path::PathBuf;

/// What the user asked for in the top bar.
#[derive(Debug, Clone, PartialEq)]
pub enum TopBarAction {
    /// Pick a project folder with the system dialog.
    OpenFolder,
    /// Pick a `dtm.toml`, a data file or a `.gguf` with the system dialog.
    OpenFile,
    /// Go to the new-project form.
    New,
    /// Open a recent project.
    Recent(PathBuf),
    /// Use this device.
    Device(DeviceRequest),
    /// Show the About window.
    About,
}

/// A device as the picker lists it: name and free / total memory.
pub fn device_text(d: &DeviceInfo) -> String {
    match (d.free_bytes, d.total_bytes) {
        (Some(free), Some(total)) => format!("{} — {} free of {}", d.name, bytes_text(free), bytes_text(total)),
        (None, Some(total)) => format!("{} — {}", d.name, bytes_text(total)),
        _ => d.name.clone(),
    }
}

/// Draws the bar; returns what was asked for.
pub fn top_bar(
    ui: &mut egui::Ui,
    project_name: Option<&str>,
    settings: &mut Settings,
    devices: &[DeviceInfo],
    device: DeviceRequest,
) -> Option<TopBarAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("DTM Studio").strong().size(16.0));
        ui.separator();
        match project_name {
            Some(name) => ui.label(egui::RichText::new(name).strong()),
            None => ui.label(egui::RichText::new("no project open").weak()),
        };
        ui.separator();
        ui.menu_button("Open…", |ui| {
            if ui.button("Project folder…").clicked() {
                action = Some(TopBarAction::OpenFolder);
                ui.close();
            }
            if ui.button("dtm.toml, data file or .gguf model…").clicked() {
                action = Some(TopBarAction::OpenFile);
                ui.close();
            }
        });
        if ui.button("New…").on_hover_text("Start a new project").clicked() {
            action = Some(TopBarAction::New);
        }
        ui.add_enabled_ui(!settings.recent.is_empty(), |ui| {
            ui.menu_button("Recent", |ui| {
                for dir in &settings.recent {
                    if ui.button(dir.display().to_string()).clicked() {
                        action = Some(TopBarAction::Recent(dir.clone()));
                        ui.close();
                    }
                }
            });
        });
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("About").on_hover_text("Version, devices, licence and the paper").clicked() {
                action = Some(TopBarAction::About);
            }
            let theme = if settings.dark { "Light theme" } else { "Dark theme" };
            if ui.button(theme).on_hover_text("Switch the theme").clicked() {
                settings.dark = !settings.dark;
            }
            ui.label(egui::RichText::new(format!("{:.0}%", settings.zoom * 100.0)).weak()).on_hover_text("Zoom: Ctrl + / Ctrl - / Ctrl 0");
            let selected = devices.iter().find(|d| d.request == device).map(device_text).unwrap_or_else(|| device.to_string());
            egui::ComboBox::from_id_salt("device")
                .selected_text(selected)
                .width(300.0)
                .show_ui(ui, |ui| {
                    let auto = DeviceRequest::Auto;
                    if ui.selectable_label(device == auto, "auto (a GPU when there is one, else the CPU)").clicked() {
                        action = Some(TopBarAction::Device(auto));
                    }
                    for d in devices {
                        if ui.selectable_label(device == d.request, device_text(d)).clicked() {
                            action = Some(TopBarAction::Device(d.request));
                        }
                    }
                })
                .response
                .accessible_name("Device");
            ui.label("Device:");
        });
    });
    action
}
