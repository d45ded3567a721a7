//! The teaching demo's offer on the Project page (and the first screen of a new user): start it
//! with a seed, read what it shows and what it does not, or start the real-model project when
//! SmolLM2 and the Alpaca data are on this machine.

use super::{PageCtx, Request};
use crate::app::open::OpenTarget;
use crate::app::task::Task;
use crate::engine::demo::{default_dir, explain::EXPLANATION, real, DemoError, DemoRequest, DemoSize};
use eframe::egui;
use std::path::PathBuf;

/// State of the demo offer.
pub struct DemoOffer {
    /// Seed of the demo's world and runs.
    pub seed: u64,
    /// Its size (tests make it small).
    pub size: DemoSize,
    /// Where the demo's project goes; `None`: `~/dtm-studio-demo`, or `seed-N` beside it for
    /// another seed.
    pub dir: Option<PathBuf>,
    /// Where the trained base models are cached.
    pub base_cache: PathBuf,
    /// Whether the explanation is shown.
    pub explain: bool,
    making_real: Option<Task<Result<PathBuf, DemoError>>>,
    real_error: Option<String>,
}

impl Default for DemoOffer {
    fn default() -> Self {
        Self {
            seed: 0,
            size: DemoSize::standard(),
            dir: None,
            base_cache: crate::engine::demo::base::cache_root(),
            explain: false,
            making_real: None,
            real_error: None,
        }
    }
}

impl DemoOffer {
    /// The folder the demo of the chosen seed goes to.
    pub fn folder(&self) -> PathBuf {
        match (&self.dir, self.seed) {
            (Some(d), _) => d.clone(),
            (None, 0) => default_dir(),
            (None, s) => default_dir().with_file_name(format!("dtm-studio-demo-seed-{s}")),
        }
    }

    /// Draws the offer.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        if let Some(result) = self.making_real.as_mut().and_then(Task::poll) {
            self.making_real = None;
            match result.and_then(|r| r.map_err(|e| e.to_string())) {
                Ok(dir) => cx.requests.push(Request::Open(OpenTarget::Project(dir))),
                Err(e) => self.real_error = Some(e),
            }
        }
        ui.label(egui::RichText::new("Teaching demo").strong());
        ui.label(
            "See the alignment tax and what merging does to it, on this computer, without a download: the demo makes a small \
             synthetic world, trains a tiny model on it from scratch (about two minutes the first time, kept for next time) and runs \
             the whole method — vanilla instruction tuning against the merge of four sub-models — with four planted biases measured.",
        );
        ui.horizontal(|ui| {
            let busy = cx.workspace.running().is_some();
            let label = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut self.seed).range(0..=9999)).labelled_by(label.id);
            if ui
                .add_enabled(!busy, egui::Button::new("Run the teaching demo"))
                .on_hover_text(format!("writes the project into {} and runs every stage", self.folder().display()))
                .clicked()
            {
                let req =
                    DemoRequest { base_cache: self.base_cache.clone(), ..DemoRequest::new(self.folder(), self.seed, self.size.clone()) };
                cx.settings.opened(&req.dir);
                cx.workspace.run_demo(req, ui.ctx(), cx.activity);
                cx.requests.push(Request::GoTo(super::Page::Project));
            }
            let text = if self.explain { "Hide what the demo shows" } else { "What the demo shows" };
            if ui.button(text).clicked() {
                self.explain = !self.explain;
            }
        });
        if real::available().is_some() {
            ui.horizontal(|ui| {
                let ready = self.making_real.is_none() && cx.workspace.running().is_none();
                if ui
                    .add_enabled(ready, egui::Button::new("Real-model project (SmolLM2)"))
                    .on_hover_text(
                        "the same method on SmolLM2-135M-Instruct and real Alpaca data; slow on a CPU, and too little data to show a tax",
                    )
                    .clicked()
                {
                    let dir = default_dir().with_file_name("dtm-studio-real");
                    let seed = self.seed;
                    self.real_error = None;
                    self.making_real = Some(Task::spawn("real project", ui.ctx(), move || real::prepare_real(&dir, seed).map(|_| dir)));
                }
            });
        }
        if let Some(e) = &self.real_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if self.explain {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                egui::ScrollArea::vertical().id_salt("demo-explanation").max_height(320.0).show(ui, |ui| {
                    for para in EXPLANATION.split("\n\n") {
                        if let Some(title) = para.strip_prefix("## ") {
                            ui.label(egui::RichText::new(title).strong());
                            continue;
                        }
                        // A list's items start lines with "- "; other line breaks are soft.
                        for (i, item) in para.split("\n- ").enumerate() {
                            let text = item.replace('\n', " ");
                            ui.label(if i > 0 { format!("- {text}") } else { text });
                        }
                    }
                    ui.label(format!("The results of a finished demo are in {}.", self.folder().join("report/demo.md").display()));
                });
            });
        }
    }
}
