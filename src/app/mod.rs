//! The egui front end. It shows the run directory and the engine's events and sends work to
//! worker threads through the pipeline; it never computes on the UI thread.

pub mod activity;
pub mod bench;
pub mod frame;
pub mod open;
pub mod pages;
pub mod settings;
pub mod studio;
pub mod task;
pub mod widgets;
pub mod workspace;

pub use open::{OpenTarget, StartRequest};
pub use studio::StudioApp;

use eframe::egui;

/// Opens the DTM Studio window on `start` and runs until it is closed.
pub fn run_gui(start: StartRequest) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("DTM Studio")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 560.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "DTM Studio",
        options,
        Box::new(move |cc| {
            let settings: settings::Settings = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY)).unwrap_or_default();
            Ok(Box::new(StudioApp::new(&cc.egui_ctx, settings, start)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}
