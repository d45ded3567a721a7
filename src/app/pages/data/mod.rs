//! The Data page: the instruction data file, checked on a worker: its format and counts, the
//! validation report with every problem's line, a searchable table of the examples with each
//! one's portion, the full record in a side panel, and the token-length histogram with the cut
//! that training applies.

pub mod bench;
mod detail;
pub mod filter;
mod histogram;
mod issues;
pub mod lengths;
mod portions;
mod source;
mod summary;
mod table;
pub mod view;

use super::{needs, Page, PageCtx, Request};
use crate::app::frame::badge::Badge;
use crate::app::task::Job;
use crate::engine::data::{DataCheckRequest, IssueKind, LengthCheck, LoadDataOptions};
use crate::engine::pipeline::Project;
pub use detail::Selection;
use eframe::egui::{self, RichText};
use filter::{Query, RowFilter};
use portions::Portions;
use source::{SourceAction, SourceForm};
use std::path::PathBuf;
use view::DataView;

/// Height of the table (and the detail panel beside it), in points: what the page's viewport
/// leaves below the search row, within these bounds.
const TABLE_HEIGHT: std::ops::RangeInclusive<f32> = 180.0..=640.0;
/// Height of the issue list, in points.
const ISSUES_HEIGHT: f32 = 190.0;
/// Width from which the detail panel stands beside the table rather than below it.
const SIDE_BY_SIDE: f32 = 980.0;

/// State of the Data page.
#[derive(Default)]
pub struct DataPage {
    source: SourceForm,
    /// A check to start once the running one has ended.
    pending: Option<DataCheckRequest>,
    /// The project's data settings last followed, so a re-read project is not checked again.
    followed: Option<String>,
    checking: Option<Job<Result<DataView, String>>>,
    /// The checked file.
    pub view: Option<DataView>,
    error: Option<String>,
    /// The table's search.
    pub filter: RowFilter,
    /// The example or skipped record in the detail panel.
    pub selection: Option<Selection>,
    /// The table's first row drawn and how many were drawn, in the last frame.
    pub drawn_rows: (usize, usize),
    selected_issue: Option<usize>,
    scroll_to: Option<usize>,
    issue_kind: Option<IssueKind>,
    portions: Portions,
    /// Where the maximum length comes from, in words.
    max_len_source: String,
}

/// What identifies the project's data settings.
fn follow_key(project: &Project) -> String {
    format!("{:?}|{:?}|{}|{:?}", project.data, project.data_options, project.model, project.prompt)
}

/// Where the project's maximum length comes from.
fn max_len_source(project: &Project) -> String {
    match (project.raw.train.max_len, project.raw.train.preset.as_deref()) {
        (Some(_), _) => "train.max_len in dtm.toml".into(),
        (None, preset) => format!("the {} preset", preset.unwrap_or("paper")),
    }
}

impl DataPage {
    /// Checks the data file at `path` on its own (the options of the file row).
    pub fn open(&mut self, path: PathBuf, _ctx: &egui::Context) {
        self.source.path = path.display().to_string();
        let options = LoadDataOptions {
            skip_bad_rows: self.source.skip_bad_rows,
            drop_duplicates: self.source.drop_duplicates,
            ..Default::default()
        };
        self.pending = Some(DataCheckRequest { path, options, lengths: None });
    }

    /// Shows the project's data file, read with the project's options and measured with its
    /// model's tokenizer; again only when those settings change.
    pub fn follow(&mut self, project: &Project, _ctx: &egui::Context) {
        let key = follow_key(project);
        if self.followed.as_ref() == Some(&key) {
            return;
        }
        self.followed = Some(key);
        self.max_len_source = max_len_source(project);
        self.source.path = project.data.display().to_string();
        self.pending = Some(project_request(project, project.data.clone()));
    }

    /// Shows `view` directly (the bench and tests).
    pub fn show_view(&mut self, view: DataView) {
        self.view = Some(view);
        self.error = None;
        self.filter.reset();
        self.selection = None;
        self.selected_issue = None;
        self.scroll_to = None;
    }

    /// The page's badge (without a project).
    pub fn badge(&self) -> Badge {
        match (&self.checking, &self.error, &self.view) {
            (Some(_), _, _) => Badge::Running,
            (_, Some(_), _) => Badge::Failed,
            (_, _, Some(_)) => Badge::Done,
            _ => Badge::NotStarted,
        }
    }

    /// Whether a check is running.
    pub fn is_checking(&self) -> bool {
        self.checking.is_some() || self.pending.is_some()
    }

    /// Takes in a finished check and starts the next one.
    fn poll(&mut self, cx: &mut PageCtx<'_>, ctx: &egui::Context) {
        if let Some(result) = self.checking.as_mut().and_then(Job::poll) {
            let stopped = self.checking.take().is_some_and(|job| job.is_cancelling());
            // A newer request supersedes what this check found; a stopped one leaves the page as it was.
            if self.pending.is_none() && !stopped {
                match result.and_then(|r| r) {
                    Ok(view) => self.show_view(view),
                    Err(e) => {
                        self.view = None;
                        self.error = Some(e);
                    }
                }
            }
        }
        if self.checking.is_some() {
            return;
        }
        let Some(mut req) = self.pending.take() else { return };
        if req.lengths.is_none() {
            // A file opened on its own while a project is open is measured with the project's model.
            req.lengths = cx.workspace.project().map(|p| LengthCheck { model: p.model.clone(), prompt: p.prompt.clone() });
        }
        self.error = None;
        self.checking = Some(Job::spawn("data", ctx, cx.activity, move |sink, cancel| DataView::check(&req, sink, cancel)));
    }

    fn act(&mut self, action: SourceAction, project: Option<&Project>, cx: &mut PageCtx<'_>, ctx: &egui::Context) {
        match action {
            SourceAction::Stop => {
                self.pending = None;
                if let Some(job) = &self.checking {
                    job.cancel();
                }
            }
            SourceAction::SkipBadRows(skip) => cx.workspace.set(vec![("data.skip_bad_rows".into(), skip.into())], ctx),
            SourceAction::Check(path) => match project {
                // The file on show, opened on its own: check it again, the project stays as it is.
                Some(p) if path != p.data && self.view.as_ref().is_some_and(|v| v.path == path) => self.open(path, ctx),
                Some(p) if path != p.data => {
                    // Changing the file of a project changes the project; the re-read follows it.
                    let text = source::project_relative(p, &path);
                    cx.workspace.set(vec![("data.path".into(), text.into())], ctx);
                }
                Some(p) => self.pending = Some(project_request(p, path)),
                None => self.open(path, ctx),
            },
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        let ctx = ui.ctx().clone();
        self.poll(cx, &ctx);
        self.portions.update(cx.workspace, &ctx);
        if let Some(view) = &self.view {
            self.filter.update(&view.rows, view.search_bytes, &ctx);
        }
        ui.heading("Data");
        ui.label(
            RichText::new(
                "The instruction data every model is trained on. The file is read and checked on a worker: \
                 records that cannot be used are listed with their line, and, in a project, every example is \
                 measured in tokens with the base model's tokenizer.",
            )
            .weak(),
        );
        ui.add_space(4.0);
        let project = cx.workspace.project().cloned();
        if let Some(action) = self.source.ui(ui, project.as_deref(), self.checking.is_some()) {
            self.act(action, project.as_deref(), cx, &ctx);
        }
        if let Some(e) = &cx.workspace.edit_error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Not saved to dtm.toml: {e}"));
        }
        if let (Some(p), Some(v)) = (&project, &self.view) {
            if v.path != p.data && self.checking.is_none() {
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        RichText::new(format!("This is not the project's data file ({}).", p.data.display()))
                            .color(ui.visuals().warn_fg_color),
                    );
                    if ui.button("Use it in the project").on_hover_text("Saves data.path in dtm.toml").clicked() {
                        let text = source::project_relative(p, &v.path);
                        cx.workspace.set(vec![("data.path".into(), text.into())], &ctx);
                    }
                });
            }
        }
        ui.add_space(6.0);
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("The file could not be used: {e}"));
            ui.label(RichText::new("Fix the record or the option named above, then press Check.").weak());
            ui.add_space(6.0);
        }
        if self.checking.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Reading and checking {}…", self.source.path.trim()));
            });
        }
        if self.view.is_none() {
            if self.checking.is_none() && self.error.is_none() {
                empty_state(ui);
            }
            return;
        }
        self.view_ui(ui, project.as_deref(), cx);
    }

    fn view_ui(&mut self, ui: &mut egui::Ui, project: Option<&Project>, cx: &mut PageCtx<'_>) {
        let Some(view) = self.view.as_ref() else { return };
        summary::summary_ui(ui, view);
        ui.add_space(10.0);
        let width = ui.available_width();
        let half = (width - 16.0) / 2.0;
        let mut clicked_issue = None;
        let lengths = |ui: &mut egui::Ui, cx: &mut PageCtx<'_>, w: f32| lengths_ui(ui, view, project, cx, &self.max_len_source, w);
        if width >= SIDE_BY_SIDE {
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(half);
                    lengths(ui, cx, half);
                });
                ui.add_space(12.0);
                ui.vertical(|ui| {
                    ui.set_width(half);
                    clicked_issue = issues::issues_ui(ui, view, &mut self.issue_kind, self.selected_issue, ISSUES_HEIGHT);
                });
            });
        } else {
            lengths(ui, cx, width);
            ui.add_space(8.0);
            clicked_issue = issues::issues_ui(ui, view, &mut self.issue_kind, self.selected_issue, ISSUES_HEIGHT);
        }
        if let Some(i) = clicked_issue {
            self.selected_issue = Some(i);
            match view.issue_example.get(i).copied().flatten() {
                Some(ex) => {
                    self.selection = Some(Selection::Example(ex));
                    self.scroll_to = Some(ex);
                    if self.filter.shown().binary_search(&(ex as u32)).is_err() {
                        // The row is hidden by the search: show every row so it can be scrolled to.
                        self.filter.query = Query::default();
                    }
                }
                None => self.selection = Some(Selection::Skipped(i)),
            }
        }
        ui.add_space(10.0);
        let rows = ui.scope(|ui| self.rows_ui(ui)).response.rect;
        if clicked_issue.is_some() {
            // Bring the table and the record beside it into the page's view.
            ui.scroll_to_rect(rows, None);
        }
    }

    fn rows_ui(&mut self, ui: &mut egui::Ui) {
        let Some(view) = self.view.as_ref() else { return };
        let split = match self.portions.matching(&view.sha256, view.examples.len()) {
            Ok(split) => split,
            Err(why) => {
                ui.label(RichText::new(format!("Portions: {why}")).weak());
                None
            }
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new("Examples").strong());
            ui.add(
                egui::TextEdit::singleline(&mut self.filter.query.text)
                    .hint_text("search instruction, input and output")
                    .desired_width(300.0),
            );
            ui.checkbox(&mut self.filter.query.flagged_only, "only rows with issues");
            if self.filter.is_searching() {
                ui.spinner();
            }
            ui.label(RichText::new(format!("{} of {} rows", self.filter.shown().len(), view.rows.len())).weak());
            if split.is_none() {
                ui.label(RichText::new("· the portion column fills in once Disperse has split the data").weak());
            }
        });
        let height = (ui.clip_rect().height() - 72.0).clamp(*TABLE_HEIGHT.start(), *TABLE_HEIGHT.end());
        let selected = match self.selection {
            Some(Selection::Example(i)) => Some(i),
            _ => None,
        };
        let input = table::TableInput {
            shown: self.filter.shown(),
            portions: split.map(|s| (s.assignment.as_slice(), s.colors.as_slice())),
            selected,
            height,
        };
        let portion_of = |i: usize| split.and_then(|s| s.assignment.get(i).copied());
        let width = ui.available_width();
        let mut out = table::TableOutput::default();
        if width >= SIDE_BY_SIDE {
            let table_width = (width * 0.6).floor();
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(table_width);
                    out = table::table_ui(ui, view, &input, self.scroll_to);
                });
                ui.separator();
                ui.vertical(|ui| {
                    egui::ScrollArea::vertical().id_salt("data-detail").max_height(height + 24.0).auto_shrink([false, true]).show(
                        ui,
                        |ui| {
                            detail_panel(ui, view, self.selection, portion_of);
                        },
                    );
                });
            });
        } else {
            out = table::table_ui(ui, view, &input, self.scroll_to);
            ui.add_space(8.0);
            detail_panel(ui, view, self.selection, portion_of);
        }
        if out.scrolled {
            self.scroll_to = None;
        }
        self.drawn_rows = (out.first_drawn, out.drawn);
        if let Some(i) = out.clicked {
            self.selection = Some(Selection::Example(i));
            self.selected_issue = None;
        }
    }
}

/// The check the project asks for: its options, its model's tokenizer, its maximum length.
fn project_request(project: &Project, path: PathBuf) -> DataCheckRequest {
    DataCheckRequest {
        path,
        options: project.data_options.clone(),
        lengths: Some(LengthCheck { model: project.model.clone(), prompt: project.prompt.clone() }),
    }
}

fn empty_state(ui: &mut egui::Ui) {
    ui.add_space(12.0);
    ui.label(RichText::new("No data file yet: type its path above, press Choose…, or drop the file on the window.").strong());
    ui.label(
        "DTM Studio reads Alpaca records (instruction / input / output, as JSON or JSONL), ShareGPT conversations, \
         OpenAI chat messages (JSONL), and CSV or Parquet tables with instruction and output columns.",
    );
}

fn detail_panel(ui: &mut egui::Ui, view: &DataView, selection: Option<Selection>, portion_of: impl Fn(usize) -> Option<u32>) {
    match selection {
        Some(sel) => {
            let portion = match sel {
                Selection::Example(i) => portion_of(i),
                Selection::Skipped(_) => None,
            };
            detail::detail_ui(ui, view, sel, portion);
        }
        None => {
            ui.label(RichText::new("Click a row, or a problem in the validation list, to see the whole record here.").weak());
        }
    }
}

/// The histogram, or why there is none.
fn lengths_ui(ui: &mut egui::Ui, view: &DataView, project: Option<&Project>, cx: &mut PageCtx<'_>, source: &str, width: f32) {
    ui.label(RichText::new("Token lengths").strong());
    if let Some(h) = &view.histogram {
        histogram::histogram_ui(ui, h, source, width);
        return;
    }
    if let Some(e) = &view.lengths_error {
        ui.colored_label(ui.visuals().error_fg_color, format!("The lengths could not be measured: {e}"));
        return;
    }
    if project.is_none() {
        ui.label("Token lengths need a base model: its tokenizer counts the tokens of every example, and the training settings say where examples are cut.");
        needs(ui, cx, Page::BaseModel, "a base model (in a project, with this data file)");
        if ui.link("or create a project with this file").clicked() {
            cx.requests.push(Request::GoTo(Page::Project));
        }
        return;
    }
    ui.label(RichText::new("The lengths were not measured: press Check to read the file again.").weak());
}
