//! The window: frame, pages and the requests between them. Each frame it drains engine events
//! within a small budget, takes in finished work and draws; all work runs on worker threads.

use super::activity::{Activity, Severity};
use super::frame::about::about_window;
use super::frame::badge::Badge;
use super::frame::log_panel::{log_panel, LogFilter};
use super::frame::sidebar::sidebar;
use super::frame::status_bar::status_bar;
use super::frame::top_bar::{top_bar, TopBarAction};
use super::open::{OpenTarget, StartRequest};
use super::pages::{
    compare::ComparePage, data::DataPage, disperse::DispersePage, merge::MergePage, model::ModelPage, playground::PlaygroundPage,
    project::ProjectPage, train::TrainPage, Page, PageCtx, Request,
};
use super::settings::Settings;
use super::task::Task;
use super::workspace::Workspace;
use crate::engine::device::{list_devices, DeviceInfo, DeviceRequest};
use crate::engine::pipeline::PROJECT_FILE;
use eframe::egui;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Time per frame spent taking in engine events; the rest wait for the next frame.
const EVENT_BUDGET: Duration = Duration::from_millis(3);

/// The pages' own state.
#[derive(Default)]
pub struct Pages {
    /// Project page.
    pub project: ProjectPage,
    /// Data page.
    pub data: DataPage,
    /// Base model page.
    pub model: ModelPage,
    /// Disperse page.
    pub disperse: DispersePage,
    /// Train page.
    pub train: TrainPage,
    /// Merge page.
    pub merge: MergePage,
    /// Compare page.
    pub compare: ComparePage,
    /// Playground page.
    pub playground: PlaygroundPage,
}

/// The application.
pub struct StudioApp {
    /// Remembered between sessions.
    pub settings: Settings,
    /// The page shown.
    pub page: Page,
    /// Engine events: the log and the running stages.
    pub activity: Activity,
    /// The open project.
    pub workspace: Workspace,
    /// The pages.
    pub pages: Pages,
    log_filter: LogFilter,
    devices: Vec<DeviceInfo>,
    listing_devices: Option<Task<Vec<DeviceInfo>>>,
    picking: Option<Task<Option<std::path::PathBuf>>>,
    memory: Arc<AtomicU64>,
    seen_revision: u64,
    theme_applied: Option<bool>,
    /// Whether the About window is shown.
    pub about_open: bool,
}

/// Samples the process's resident memory once a second on its own thread (reading /proc is file
/// I/O, kept off the UI thread).
fn memory_sampler() -> Arc<AtomicU64> {
    let memory = Arc::new(AtomicU64::new(0));
    let shared = Arc::clone(&memory);
    let _ = std::thread::Builder::new().name("memory sampler".into()).spawn(move || loop {
        shared.store(crate::engine::memory::resident_bytes().unwrap_or(0), Ordering::Relaxed);
        if Arc::strong_count(&shared) == 1 {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    });
    memory
}

impl StudioApp {
    /// A window with `settings`, opened on `start` (else the last project).
    pub fn new(ctx: &egui::Context, settings: Settings, start: StartRequest) -> Self {
        ctx.set_zoom_factor(settings.zoom);
        let mut app = Self {
            settings,
            page: Page::Project,
            activity: Activity::default(),
            workspace: Workspace::default(),
            pages: Pages::default(),
            log_filter: LogFilter::default(),
            devices: Vec::new(),
            listing_devices: Some(Task::spawn("list devices", ctx, list_devices)),
            picking: None,
            memory: memory_sampler(),
            seen_revision: 0,
            theme_applied: None,
            about_open: false,
        };
        let target = start.target.clone().or_else(|| {
            let last = app.settings.last_project.clone()?;
            last.join(PROJECT_FILE).is_file().then_some(OpenTarget::Project(last))
        });
        if let Some(target) = target {
            app.open(target, ctx);
        }
        if let Some(page) = start.page {
            app.page = page;
        }
        app
    }

    /// Opens a project, a data file or a model, and shows its page.
    pub fn open(&mut self, target: OpenTarget, ctx: &egui::Context) {
        self.page = target.page();
        match target {
            OpenTarget::Project(dir) => {
                if dir.join(PROJECT_FILE).is_file() {
                    self.workspace.open(&dir, ctx);
                    self.settings.opened(&dir);
                    self.pages.project.show_form = false;
                    self.activity.note(Severity::Info, "project", format!("opened {}", dir.display()));
                } else {
                    self.pages.project.new_project_in(Some(dir));
                }
            }
            OpenTarget::Data(path) => self.pages.data.open(path, ctx),
            OpenTarget::Model(model) => self.pages.model.open(model, self.device(), ctx),
        }
    }

    /// The device work runs on: the project's, else the window's.
    pub fn device(&self) -> DeviceRequest {
        let text = match self.workspace.project() {
            Some(p) => p.raw.device.devices.first().cloned().unwrap_or_else(|| p.raw.device.device.clone()),
            None => self.settings.device.clone(),
        };
        text.parse().unwrap_or_default()
    }

    fn badge(&self, page: Page) -> Badge {
        let w = &self.workspace;
        match page {
            Page::Project => self.pages.project.badge(w.is_reading() && w.project.is_none(), w.project.as_ref().map(|p| p.is_ok())),
            Page::BaseModel => self.pages.model.badge(),
            Page::Data if w.project().is_none() => self.pages.data.badge(),
            _ => Badge::of(w.state_of(page.stages())),
        }
    }

    /// Keeps the pages on the project's files when the project changes.
    fn follow_project(&mut self, ctx: &egui::Context) {
        if self.workspace.revision == self.seen_revision {
            return;
        }
        self.seen_revision = self.workspace.revision;
        let Some(project) = self.workspace.project().cloned() else { return };
        self.pages.data.follow(&project, ctx);
        self.pages.model.follow(&project, self.device(), ctx);
        self.pages.disperse.follow(&project, ctx);
        self.pages.train.follow(&project, ctx);
    }

    fn take_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<_> =
            ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()).collect());
        for path in dropped {
            match OpenTarget::of_path(&path) {
                Ok(target) => self.open(target, ctx),
                Err(e) => self.activity.note(Severity::Error, "open", e),
            }
        }
    }

    fn poll_tasks(&mut self, ctx: &egui::Context) {
        if let Some(result) = self.listing_devices.as_mut().and_then(Task::poll) {
            self.listing_devices = None;
            self.devices = result.unwrap_or_default();
        }
        if let Some(result) = self.picking.as_mut().and_then(Task::poll) {
            self.picking = None;
            if let Ok(Some(path)) = result {
                match OpenTarget::of_path(&path) {
                    Ok(target) => self.open(target, ctx),
                    Err(e) => self.activity.note(Severity::Error, "open", e),
                }
            }
        }
    }

    fn apply_look(&mut self, ctx: &egui::Context) {
        if self.theme_applied != Some(self.settings.dark) {
            ctx.set_theme(if self.settings.dark { egui::Theme::Dark } else { egui::Theme::Light });
            self.theme_applied = Some(self.settings.dark);
        }
        self.settings.zoom = ctx.zoom_factor();
    }

    fn top_bar_action(&mut self, action: TopBarAction, ctx: &egui::Context) {
        match action {
            TopBarAction::OpenFolder if self.picking.is_none() => {
                self.picking =
                    Some(Task::spawn("file dialog", ctx, || rfd::FileDialog::new().set_title("Open a project folder").pick_folder()));
            }
            TopBarAction::OpenFile if self.picking.is_none() => {
                self.picking = Some(Task::spawn("file dialog", ctx, || {
                    rfd::FileDialog::new()
                        .set_title("Open a dtm.toml, a data file or a model")
                        .add_filter("Projects, data and models", &["toml", "jsonl", "json", "csv", "parquet", "gguf"])
                        .pick_file()
                }));
            }
            TopBarAction::OpenFolder | TopBarAction::OpenFile => {}
            TopBarAction::New => {
                self.pages.project.new_project_in(None);
                self.page = Page::Project;
            }
            TopBarAction::Recent(dir) => self.open(OpenTarget::Project(dir), ctx),
            TopBarAction::About => self.about_open = true,
            TopBarAction::Device(device) => {
                self.settings.device = device.to_string();
                if self.workspace.project().is_some() {
                    self.workspace.set(vec![("device.device".into(), device.to_string().into())], ctx);
                }
            }
        }
    }

    /// Draws one frame.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.activity.drain(EVENT_BUDGET);
        self.workspace.poll(&ctx, &mut self.activity);
        self.poll_tasks(&ctx);
        self.follow_project(&ctx);
        self.take_dropped_files(&ctx);
        self.apply_look(&ctx);

        let device = self.device();
        let name = self.workspace.name();
        let mut action = None;
        egui::Panel::top("top-bar").show(ui, |ui| {
            ui.add_space(3.0);
            action = top_bar(ui, name.as_deref(), &mut self.settings, &self.devices, device);
            ui.add_space(1.0);
        });
        if let Some(action) = action {
            self.top_bar_action(action, &ctx);
        }
        let memory = Some(self.memory.load(Ordering::Relaxed)).filter(|m| *m > 0);
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                let arrow = if self.settings.log_open { "Hide log" } else { "Show log" };
                if ui.small_button(arrow).on_hover_text("Show or hide the log").clicked() {
                    self.settings.log_open = !self.settings.log_open;
                }
                status_bar(ui, &self.activity, memory);
            });
        });
        if self.settings.log_open {
            egui::Panel::bottom("log")
                .resizable(true)
                .default_size(160.0)
                .show(ui, |ui| log_panel(ui, &self.activity, &mut self.log_filter));
        }
        let mut chosen = None;
        egui::Panel::left("steps").resizable(true).default_size(170.0).show(ui, |ui| {
            chosen = sidebar(ui, self.page, |p| self.badge(p));
        });
        if let Some(page) = chosen {
            self.page = page;
        }
        let mut requests = Vec::new();
        egui::CentralPanel::default().show(ui, |ui| {
            let mut cx = PageCtx {
                workspace: &mut self.workspace,
                activity: &mut self.activity,
                settings: &mut self.settings,
                devices: &self.devices,
                device,
                requests: &mut requests,
            };
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| match self.page {
                Page::Project => self.pages.project.ui(ui, &mut cx),
                Page::Data => self.pages.data.ui(ui, &mut cx),
                Page::BaseModel => self.pages.model.ui(ui, &mut cx),
                Page::Disperse => self.pages.disperse.ui(ui, &mut cx),
                Page::Train => self.pages.train.ui(ui, &mut cx),
                Page::Merge => self.pages.merge.ui(ui, &mut cx),
                Page::Compare => self.pages.compare.ui(ui, &mut cx),
                Page::Playground => self.pages.playground.ui(ui, &mut cx),
            });
        });
        about_window(&ctx, &mut self.about_open, &self.devices);
        for request in requests {
            match request {
                Request::GoTo(page) => self.page = page,
                Request::Open(target) => self.open(target, &ctx),
            }
        }
        if self.activity.current().is_some() {
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
