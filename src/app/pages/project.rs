//! The Project page: the open project's settings and stages, a new-project form that writes
//! `dtm.toml` through the same code as `dtm-studio init`, and the recent projects.

use super::{Page, PageCtx, Request};
use crate::app::frame::badge::Badge;
use crate::app::open::OpenTarget;
use crate::app::task::Task;
use crate::engine::pipeline::{init_project, InitRequest, PipelineError, Project};
use eframe::egui;
use std::path::PathBuf;

/// Which file field a dialog fills.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Folder,
    Model,
    Data,
    Bench(usize),
}

/// The new-project form.
#[derive(Debug, Clone)]
pub struct NewProjectForm {
    /// Project folder.
    pub dir: String,
    /// Base model: folder, .gguf or cached HF id.
    pub model: String,
    /// Data file.
    pub data: String,
    /// Benchmarks as (name, path).
    pub benchmarks: Vec<(String, String)>,
    /// Portions.
    pub k: usize,
    /// Training preset.
    pub preset: String,
}

impl Default for NewProjectForm {
    fn default() -> Self {
        Self { dir: String::new(), model: String::new(), data: String::new(), benchmarks: Vec::new(), k: 4, preset: "paper".into() }
    }
}

/// State of the Project page.
#[derive(Default)]
pub struct ProjectPage {
    /// The form's fields.
    pub form: NewProjectForm,
    /// Whether the form is shown (else the open project).
    pub show_form: bool,
    creating: Option<Task<Result<Project, PipelineError>>>,
    create_error: Option<String>,
    picking: Option<(Field, Task<Option<PathBuf>>)>,
    /// The teaching demo's offer.
    pub demo: super::project_demo::DemoOffer,
}

impl ProjectPage {
    /// Shows the form, with the folder filled in.
    pub fn new_project_in(&mut self, dir: Option<PathBuf>) {
        self.show_form = true;
        if let Some(dir) = dir {
            self.form.dir = dir.display().to_string();
        }
    }

    /// The page's badge: the project read, failed to read, or none.
    pub fn badge(&self, cx_reading: bool, loaded: Option<bool>) -> Badge {
        match (cx_reading || self.creating.is_some(), loaded) {
            (true, _) => Badge::Running,
            (_, Some(true)) => Badge::Done,
            (_, Some(false)) => Badge::Failed,
            _ => Badge::NotStarted,
        }
    }

    fn poll(&mut self, cx: &mut PageCtx<'_>) {
        if let Some(result) = self.creating.as_mut().and_then(Task::poll) {
            self.creating = None;
            match result.and_then(|r| r.map_err(|e| e.to_string())) {
                Ok(project) => {
                    self.show_form = false;
                    self.create_error = None;
                    cx.requests.push(Request::Open(OpenTarget::Project(project.dir.clone())));
                }
                Err(e) => self.create_error = Some(e),
            }
        }
        if let Some((field, result)) = self.picking.as_mut().and_then(|(f, t)| t.poll().map(|r| (*f, r))) {
            self.picking = None;
            if let Ok(Some(path)) = result {
                let text = path.display().to_string();
                match field {
                    Field::Folder => self.form.dir = text,
                    Field::Model => self.form.model = text,
                    Field::Data => self.form.data = text,
                    Field::Bench(i) => {
                        if let Some(b) = self.form.benchmarks.get_mut(i) {
                            b.1 = text;
                        }
                    }
                }
            }
        }
    }

    fn pick(&mut self, field: Field, ctx: &egui::Context) {
        let task = Task::spawn("file dialog", ctx, move || match field {
            Field::Folder => rfd::FileDialog::new().set_title("Project folder").pick_folder(),
            Field::Model => rfd::FileDialog::new().set_title("Base model (.gguf)").add_filter("GGUF", &["gguf"]).pick_file(),
            Field::Data => {
                rfd::FileDialog::new().set_title("Instruction data").add_filter("Data", &["jsonl", "json", "csv", "parquet"]).pick_file()
            }
            Field::Bench(_) => rfd::FileDialog::new().set_title("Benchmark file").pick_file(),
        });
        self.picking = Some((field, task));
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        self.poll(cx);
        ui.heading("Project");
        ui.label(
            "A project is a folder with one dtm.toml: the data, the base model, how to disperse, train, merge and evaluate. \
             Every step writes its results into the folder, so work is never lost and a changed setting re-runs only what depends on it.",
        );
        ui.add_space(6.0);
        // Decided once per frame: starting the demo opens a folder while this page draws.
        let first_screen = cx.workspace.dir.is_none();
        if first_screen {
            // The first screen: the demo comes before the form.
            self.demo.ui(ui, cx);
            ui.add_space(12.0);
        }
        if self.show_form || first_screen {
            self.form_ui(ui, cx);
        } else {
            self.open_project_ui(ui, cx);
            ui.add_space(12.0);
            self.demo.ui(ui, cx);
        }
        if !cx.settings.recent.is_empty() {
            ui.add_space(12.0);
            ui.label(egui::RichText::new("Recent projects").strong());
            let recent = cx.settings.recent.clone();
            for dir in recent {
                if ui.link(dir.display().to_string()).clicked() {
                    cx.requests.push(Request::Open(OpenTarget::Project(dir)));
                }
            }
        }
    }

    fn open_project_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        let dir = cx.workspace.dir.clone().unwrap_or_default();
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(dir.display().to_string()).monospace());
            if ui.button("Reload").on_hover_text("Read dtm.toml and the stages again").clicked() {
                cx.workspace.reread(ui.ctx());
            }
            if ui.button("New project…").clicked() {
                self.show_form = true;
            }
        });
        if cx.workspace.load_error().is_some() && cx.workspace.running() == Some("demo") {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Making the demo's world, data, benchmarks and base model; its stages appear here next.");
                if ui.button("Stop").clicked() {
                    cx.workspace.cancel_run();
                }
            });
            return;
        }
        if let Some(e) = cx.workspace.load_error() {
            ui.add_space(6.0);
            ui.colored_label(ui.visuals().error_fg_color, format!("The project file cannot be used: {e}"));
            ui.label("Fix the line it names in dtm.toml, then press Reload. Nothing in the folder was changed.");
            return;
        }
        let Some(project) = cx.workspace.project().cloned() else {
            ui.spinner();
            return;
        };
        if let Some(e) = &cx.workspace.edit_error {
            ui.colored_label(ui.visuals().error_fg_color, format!("A setting was not saved: {e}"));
        }
        egui::Grid::new("project-settings").num_columns(2).striped(true).show(ui, |ui| {
            let rows = [
                ("Data", project.data.display().to_string()),
                ("Base model", project.model.clone()),
                (
                    "Disperse",
                    format!(
                        "{} on {} with {}, K = {}",
                        project.raw.disperse.method,
                        project.raw.disperse.field,
                        project.encoder,
                        project.k()
                    ),
                ),
                (
                    "Train",
                    format!(
                        "preset {}, {}",
                        project.raw.train.preset.as_deref().unwrap_or("paper"),
                        if project.vanilla { "with the vanilla baseline" } else { "sub-models only" }
                    ),
                ),
                ("Merges", project.merges.iter().map(|m| m.name.clone()).collect::<Vec<_>>().join(", ")),
                ("Benchmarks", project.evals.iter().map(|e| e.spec.name.clone()).collect::<Vec<_>>().join(", ")),
                ("Device", project.raw.device.device.clone()),
            ];
            for (k, v) in rows {
                ui.label(k);
                ui.label(if v.is_empty() { "—".to_string() } else { v });
                ui.end_row();
            }
        });
        ui.add_space(8.0);
        ui.label(egui::RichText::new("Stages").strong());
        egui::ScrollArea::vertical().max_height(260.0).show(ui, |ui| {
            egui::Grid::new("project-stages").num_columns(4).striped(true).show(ui, |ui| {
                for s in &cx.workspace.statuses {
                    ui.label(egui::RichText::new(&s.stage).monospace());
                    Badge::of(Some(s.state)).show(ui);
                    ui.label(s.seconds.map(|x| format!("{x:.1} s")).unwrap_or_default());
                    ui.label(s.figure.clone().unwrap_or_default());
                    ui.end_row();
                }
            });
        });
        ui.add_space(6.0);
        ui.horizontal(|ui| match cx.workspace.running().map(str::to_string) {
            None => {
                if ui.button("Run every step").on_hover_text("Like `dtm-studio run`: every stage that is not done").clicked() {
                    cx.workspace.run("run", Vec::new(), ui.ctx(), cx.activity);
                }
                if ui.button("Next: Data").clicked() {
                    cx.requests.push(Request::GoTo(Page::Data));
                }
            }
            Some(label) => {
                ui.spinner();
                ui.label(format!("{label} is running"));
                if ui.button("Stop").clicked() {
                    cx.workspace.cancel_run();
                }
            }
        });
    }

    fn path_row(&mut self, ui: &mut egui::Ui, label: &str, field: Field, hint: &str) {
        let ctx = ui.ctx().clone();
        ui.label(label);
        ui.horizontal(|ui| {
            let value = match field {
                Field::Folder => &mut self.form.dir,
                Field::Model => &mut self.form.model,
                Field::Data => &mut self.form.data,
                Field::Bench(_) => unreachable!("benchmarks have their own rows"),
            };
            ui.add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(420.0));
            if ui.add_enabled(self.picking.is_none(), egui::Button::new("Choose…")).clicked() {
                self.pick(field, &ctx);
            }
        });
        ui.end_row();
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        ui.label(egui::RichText::new("New project").strong());
        egui::Grid::new("new-project").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            self.path_row(ui, "Folder", Field::Folder, "where the project lives (created if missing)");
            self.path_row(ui, "Base model", Field::Model, ".gguf file, HF folder or cached HF id");
            self.path_row(ui, "Data", Field::Data, "instruction data: .jsonl, .json, .csv or .parquet");
            ui.label("Portions K");
            ui.add(egui::Slider::new(&mut self.form.k, 2..=16).text("sub-models"));
            ui.end_row();
            ui.label("Training");
            ui.horizontal(|ui| {
                ui.radio_value(&mut self.form.preset, "paper".to_string(), "paper (GPU)");
                ui.radio_value(&mut self.form.preset, "quick".to_string(), "quick (a short CPU run)");
            });
            ui.end_row();
            ui.label("Benchmarks");
            ui.vertical(|ui| {
                let mut remove = None;
                let mut pick = None;
                for (i, (name, path)) in self.form.benchmarks.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(name).hint_text("arc_easy").desired_width(110.0));
                        ui.add(egui::TextEdit::singleline(path).hint_text("benchmark file or folder").desired_width(300.0));
                        if ui.button("Choose…").clicked() {
                            pick = Some(i);
                        }
                        if ui.button("Remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = pick {
                    self.pick(Field::Bench(i), ui.ctx());
                }
                if let Some(i) = remove {
                    self.form.benchmarks.remove(i);
                }
                if ui.button("+ Add benchmark").clicked() {
                    self.form.benchmarks.push((String::new(), String::new()));
                }
            });
            ui.end_row();
        });
        let f = &self.form;
        let missing: Vec<&str> =
            [("a folder", f.dir.trim().is_empty()), ("a base model", f.model.trim().is_empty()), ("a data file", f.data.trim().is_empty())]
                .into_iter()
                .filter_map(|(what, empty)| empty.then_some(what))
                .collect();
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let ready = missing.is_empty() && self.creating.is_none();
            if ui.add_enabled(ready, egui::Button::new("Create project")).clicked() {
                let req = InitRequest {
                    dir: PathBuf::from(f.dir.trim()),
                    model: f.model.trim().to_string(),
                    data: PathBuf::from(f.data.trim()),
                    benchmarks: f
                        .benchmarks
                        .iter()
                        .filter(|(n, p)| !n.trim().is_empty() && !p.trim().is_empty())
                        .map(|(n, p)| (n.trim().to_string(), PathBuf::from(p.trim())))
                        .collect(),
                    k: f.k,
                    preset: f.preset.clone(),
                };
                self.create_error = None;
                self.creating = Some(Task::spawn("create project", ui.ctx(), move || init_project(&req)));
            }
            if self.creating.is_some() {
                ui.spinner();
            } else if !missing.is_empty() {
                ui.label(egui::RichText::new(format!("Still needed: {}.", missing.join(", "))).weak());
            }
            if cx.workspace.dir.is_some() && ui.button("Cancel").clicked() {
                self.show_form = false;
            }
        });
        if let Some(e) = &self.create_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.label(
            egui::RichText::new("The form writes dtm.toml with the paper's defaults and comments, like `dtm-studio init`; every setting can be changed later.")
                .weak(),
        );
    }
}
