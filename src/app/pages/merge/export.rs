//! Keeping a merge: write it as an adapter, a full model or a mergekit recipe (a save dialog,
//! then the merge, both on a worker), or add it to dtm.toml as a named `[[merge]]` that the
//! pipeline merges and evaluates on every benchmark.

use super::form::MergeForm;
use crate::app::activity::Severity;
use crate::app::pages::PageCtx;
use crate::app::task::{Job, Task};
use crate::engine::merge::recipe::mergekit_yaml;
use crate::engine::merge::{run_merge, MergeOutput, MergeRequest, MergeSpec};
use crate::engine::pipeline::{add_merge, Project};
use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;

/// What the user asked to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Adapter,
    Full,
    Recipe,
}

/// The export and "add to dtm.toml" controls and their work in progress.
pub struct Export {
    /// Name of the merge added to dtm.toml.
    pub name: String,
    /// Whether the added merge is written as a full model (else an adapter).
    pub full: bool,
    exporting: Option<Job<Result<String, String>>>,
    adding: Option<Task<Result<Project, String>>>,
    /// What the last export or addition did, or why it failed.
    pub message: Option<(bool, String)>,
}

impl Default for Export {
    fn default() -> Self {
        Self { name: "my-merge".into(), full: false, exporting: None, adding: None, message: None }
    }
}

fn export_work(
    kind: Kind,
    project: Arc<Project>,
    spec: MergeSpec,
    sink: &crate::engine::job::EventSink,
    cancel: &crate::engine::job::CancelToken,
) -> Result<String, String> {
    let k = project.k();
    let adapters: Vec<PathBuf> = (0..k).map(|i| crate::engine::pipeline::plan::paths::run(&project.dir, &format!("sub-{i}"))).collect();
    let (title, file) = match kind {
        Kind::Adapter => ("Save the merged adapter as a folder", "merged-adapter"),
        Kind::Full => ("Save the merged model as a folder", "merged-model"),
        Kind::Recipe => ("Save the mergekit recipe", "merge.yaml"),
    };
    let Some(out) = rfd::FileDialog::new().set_title(title).set_directory(&project.dir).set_file_name(file).save_file() else {
        return Ok("export cancelled".into());
    };
    if kind == Kind::Recipe {
        let yaml = mergekit_yaml(&spec, &project.model, &adapters, "float32");
        std::fs::write(&out, yaml).map_err(|e| format!("{}: {e}", out.display()))?;
        return Ok(format!("recipe written to {}", out.display()));
    }
    let req = MergeRequest {
        base: project.model.clone(),
        adapters,
        spec,
        output: if kind == Kind::Full { MergeOutput::Full } else { MergeOutput::Adapter },
        out: out.clone(),
        full: Default::default(),
        overwrite: false,
    };
    run_merge(&req, sink, cancel).map_err(|e| e.to_string())?;
    Ok(format!("merge written to {}", out.display()))
}

/// Draws the export buttons and the "add to dtm.toml" row.
pub fn export_ui(ui: &mut egui::Ui, ex: &mut Export, form: &MergeForm, cx: &mut PageCtx<'_>) {
    if let Some(result) = ex.exporting.as_mut().and_then(Job::poll) {
        ex.exporting = None;
        ex.message = Some(match result.and_then(|r| r) {
            Ok(m) => (true, m),
            Err(e) => (false, e),
        });
    }
    if let Some(result) = ex.adding.as_mut().and_then(Task::poll) {
        ex.adding = None;
        match result.and_then(|r| r) {
            Ok(_) => {
                ex.message = Some((true, format!("'{}' added to dtm.toml: Run merge, then the Compare page, to evaluate it", ex.name)));
                cx.activity.note(Severity::Info, "merge", format!("merge '{}' added to dtm.toml", ex.name));
                cx.workspace.reread(ui.ctx());
            }
            Err(e) => ex.message = Some((false, e)),
        }
    }
    let Some(project) = cx.workspace.project().cloned() else { return };
    let spec = form.spec();
    ui.horizontal_wrapped(|ui| {
        ui.label("Export the merge on show:");
        let idle = ex.exporting.is_none() && spec.is_ok();
        for (kind, label) in [(Kind::Adapter, "Adapter…"), (Kind::Full, "Full model…"), (Kind::Recipe, "Recipe…")] {
            if ui.add_enabled(idle, egui::Button::new(label)).clicked() {
                if let Ok(spec) = spec.clone() {
                    let project = project.clone();
                    ex.exporting = Some(Job::spawn("export merge", ui.ctx(), cx.activity, move |sink, cancel| {
                        export_work(kind, project, spec, sink, cancel)
                    }));
                }
            }
        }
        if let Some(job) = &ex.exporting {
            ui.spinner();
            if ui.button("Stop export").clicked() {
                job.cancel();
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Or add it to dtm.toml as");
        ui.add(egui::TextEdit::singleline(&mut ex.name).desired_width(140.0)).accessible_name("Merge name");
        ui.checkbox(&mut ex.full, "as a full model");
        let ok = spec.is_ok() && ex.adding.is_none() && !ex.name.trim().is_empty();
        if ui
            .add_enabled(ok, egui::Button::new("Add to dtm.toml"))
            .on_hover_text("The pipeline then merges it and evaluates it on every benchmark")
            .clicked()
        {
            let section = form.section(ex.name.trim(), if ex.full { "full" } else { "adapter" });
            let dir = project.dir.clone();
            ex.adding = Some(Task::spawn("add merge", ui.ctx(), move || add_merge(&dir, &section).map_err(|e| e.to_string())));
        }
    });
    if let Some((ok, text)) = &ex.message {
        let color = if *ok { ui.visuals().text_color() } else { ui.visuals().error_fg_color };
        ui.colored_label(color, text);
    }
}
