//! The Base model page: choose a model (a `.gguf`, an HF folder or a cached HF id; in a project,
//! the project's), see what it is (architecture, parameters, dtypes, context, vocabulary, the
//! chat template on an example conversation), try it on a prompt with the answer streamed in, and
//! see whether a training run with the current settings fits in the device's memory.
//! Loading and generating run as jobs on workers; the model is loaded once and shared.

mod facts;
pub mod loaded;
pub mod memory;
mod picker;
pub mod try_it;

use super::PageCtx;
use crate::app::activity::Severity;
use crate::app::frame::badge::Badge;
use crate::app::task::Job;
use crate::engine::device::DeviceRequest;
use crate::engine::pipeline::Project;
use crate::engine::train::TrainConfig;
use eframe::egui;
use loaded::{load_view, ModelView};
use memory::{memory_ui, DeviceMemory, TrainSettings};
use picker::Picker;
use try_it::TryIt;

/// A model to load, and whether it was the user's choice on this page (then it becomes the
/// project's model once it loads).
struct LoadOrder {
    model: String,
    device: DeviceRequest,
    write_back: bool,
}

/// A model being loaded.
struct Loading {
    order: LoadOrder,
    job: Job<Result<ModelView, String>>,
}

/// State of the model page.
#[derive(Default)]
pub struct ModelPage {
    /// The model field, dialogs and cached models.
    pub picker: Picker,
    /// The model on show, once loaded.
    pub view: Option<ModelView>,
    /// The try-it box.
    pub try_it: TryIt,
    loading: Option<Loading>,
    pending: Option<LoadOrder>,
    /// Why the last load failed (the model on show, if any, stays).
    error: Option<String>,
    /// The project model last followed, so the page follows changes, not every re-read.
    followed: Option<String>,
    /// Whether this page changed dtm.toml last (then a refusal is shown here).
    wrote: bool,
    devices: DeviceMemory,
}

/// Width from which the description and the memory estimate sit side by side, in points.
const TWO_COLUMNS: f32 = 1000.0;

/// Draws a section title.
fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(14.0);
    ui.label(egui::RichText::new(title).size(17.0).strong());
    ui.separator();
}

impl ModelPage {
    /// Loads `model` (folder, .gguf or cached HF id) on `device` and shows it. Opening a model
    /// from the window (drop, file dialog, `dtm-studio open`) does not change the project.
    pub fn open(&mut self, model: String, device: DeviceRequest, _ctx: &egui::Context) {
        self.picker.path = model.clone();
        self.pending = Some(LoadOrder { model, device, write_back: false });
    }

    /// Shows the project's base model when the project names another one than before.
    pub fn follow(&mut self, project: &Project, device: DeviceRequest, ctx: &egui::Context) {
        if self.followed.as_deref() == Some(project.model.as_str()) {
            return;
        }
        self.followed = Some(project.model.clone());
        let shown = self.loading.as_ref().map(|l| l.order.model.as_str()).or(self.view.as_ref().map(|v| v.setting.as_str()));
        if shown != Some(project.model.as_str()) {
            self.open(project.model.clone(), device, ctx);
        }
    }

    /// The page's badge: loading, failed, loaded or nothing yet.
    pub fn badge(&self) -> Badge {
        match (&self.loading, &self.error, &self.view) {
            (Some(_), _, _) => Badge::Running,
            (_, Some(_), _) => Badge::Failed,
            (_, _, Some(_)) => Badge::Done,
            _ => Badge::NotStarted,
        }
    }

    /// Whether a model is being loaded.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some() || self.pending.is_some()
    }

    /// The error of the last load, if it failed.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn take_loaded(&mut self, cx: &mut PageCtx<'_>, ctx: &egui::Context) {
        let Some(result) = self.loading.as_mut().and_then(|l| l.job.poll()) else { return };
        let Some(Loading { order, job }) = self.loading.take() else { return };
        match result.and_then(|r| r) {
            Ok(view) => {
                self.error = None;
                let project_model = cx.workspace.project().map(|p| p.model.clone());
                if order.write_back && project_model.is_some_and(|m| m != view.setting) {
                    cx.workspace.set(vec![("model.path".into(), view.setting.clone().into())], ctx);
                    self.followed = Some(view.setting.clone());
                    self.wrote = true;
                }
                self.try_it.clear();
                self.view = Some(view);
                self.devices.measure(ctx);
            }
            Err(_) if job.is_cancelling() => cx.activity.note(Severity::Info, "load model", format!("loading {} stopped", order.model)),
            Err(e) if e.contains(&order.model) => self.error = Some(format!("Could not load the model: {e}")),
            Err(e) => self.error = Some(format!("Could not load {}: {e}", order.model)),
        }
    }

    fn start_pending(&mut self, cx: &mut PageCtx<'_>, ctx: &egui::Context) {
        if self.loading.is_some() {
            return;
        }
        let Some(order) = self.pending.take() else { return };
        self.error = None;
        let (model, device) = (order.model.clone(), order.device);
        let job = Job::spawn("load model", ctx, cx.activity, move |sink, cancel| load_view(model, device, sink, cancel));
        self.loading = Some(Loading { order, job });
    }

    /// The line about the project's model: which it is, and buttons when another one is shown.
    fn project_line(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        let Some(project) = cx.workspace.project().cloned() else { return };
        let shown = self.view.as_ref().map(|v| v.setting.clone());
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("Project model: {}", project.model));
            if shown.as_ref().is_some_and(|s| *s != project.model) && self.loading.is_none() {
                ui.label(egui::RichText::new("(another model is shown)").weak());
                if ui.button("Use the shown model for the project").clicked() {
                    if let Some(setting) = shown {
                        cx.workspace.set(vec![("model.path".into(), setting.clone().into())], ui.ctx());
                        self.followed = Some(setting);
                        self.wrote = true;
                    }
                }
                if ui.button("Show the project's model").clicked() {
                    self.open(project.model.clone(), cx.device, ui.ctx());
                }
            }
        });
        if let Some(e) = cx.workspace.edit_error.as_ref().filter(|_| self.wrote) {
            ui.colored_label(ui.visuals().error_fg_color, format!("dtm.toml was not changed: {e}"));
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        let ctx = ui.ctx().clone();
        self.take_loaded(cx, &ctx);
        self.start_pending(cx, &ctx);
        ui.heading("Base model");
        ui.label(
            "The model every sub-model starts from: DTM trains one LoRA adapter per portion of the data on it, and \
             merges them. Check here that it loads, what shape it has, how its chat template lays out a conversation, \
             that it answers, and whether training fits in memory.",
        );
        ui.add_space(6.0);
        self.project_line(ui, cx);
        if let Some(model) = self.picker.ui(ui, self.loading.is_some()) {
            self.pending = Some(LoadOrder { model, device: cx.device, write_back: true });
            ctx.request_repaint();
        }
        if let Some(loading) = &self.loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Loading {} (device: {})…", loading.order.model, loading.order.device));
                if ui.add_enabled(!loading.job.is_cancelling(), egui::Button::new("Cancel")).clicked() {
                    loading.job.cancel();
                }
            });
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
            if let Some(view) = &self.view {
                ui.label(egui::RichText::new(format!("Still showing {}.", view.requested)).weak());
            }
        }
        let Some(view) = &self.view else {
            let hint = if self.loading.is_some() {
                "Its description, a prompt to try it and the memory a training run needs appear once it has loaded."
            } else {
                "No model loaded yet: name one above, or choose a .gguf file or an HF folder."
            };
            ui.add_space(12.0);
            ui.label(egui::RichText::new(hint).weak());
            return;
        };
        let paper = TrainConfig::paper();
        let project = cx.workspace.project().cloned();
        let train = match &project {
            Some(p) => {
                TrainSettings { config: &p.train, origin: "the project's [train] settings", dtype: p.dtype, checkpointing: p.checkpointing }
            }
            None => TrainSettings {
                config: &paper,
                origin: "the paper preset (no project open)",
                dtype: None,
                checkpointing: Default::default(),
            },
        };
        let (devices, window_devices, device) = (&mut self.devices, cx.devices, cx.device);
        let mut apply = None;
        let mut memory = |ui: &mut egui::Ui| {
            // Keep clear of the scroll bar on the right.
            ui.set_max_width(ui.available_width() - 12.0);
            section(ui, "Memory for training");
            apply = memory_ui(ui, devices, window_devices, device, &view.config, &train, project.is_some());
        };
        // Side by side when the window is wide enough, else one under the other.
        if ui.available_width() >= TWO_COLUMNS {
            ui.columns(2, |cols| {
                section(&mut cols[0], "Model");
                facts::description_ui(&mut cols[0], view);
                memory(&mut cols[1]);
            });
        } else {
            section(ui, "Model");
            facts::description_ui(ui, view);
            memory(ui);
        }
        if let Some(changes) = apply {
            self.wrote = true;
            cx.workspace.set(changes.into_iter().map(|(key, value)| (key.to_string(), value)).collect(), &ctx);
        }
        section(ui, "Try it");
        self.try_it.ui(ui, Some(&view.model), cx.activity);
        section(ui, "Chat template");
        facts::template_ui(ui, view);
    }
}
