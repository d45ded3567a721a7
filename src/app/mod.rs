//! The egui front end. It sends work to engine threads and shows what comes back; it never
//! computes itself.

mod model_page;

use eframe::egui;

/// Opens the DTM Studio window and runs until it is closed.
pub fn run_gui() -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("DTM Studio").with_inner_size([1100.0, 720.0]),
        ..Default::default()
    };
    eframe::run_native("DTM Studio", options, Box::new(|_cc| Ok(Box::new(StudioApp::default()))))
        .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}

/// The application state: one page per stage of the pipeline (only the model page so far).
#[derive(Default)]
pub struct StudioApp {
    model_page: model_page::ModelPage,
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.model_page.poll(ui.ctx());
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("DTM Studio");
            ui.label(
                "Disperse-Then-Merge: split the instruction data, train one LoRA per portion, merge them, and measure the alignment tax.",
            );
            ui.separator();
            self.model_page.page_ui(ui);
        });
    }
}
