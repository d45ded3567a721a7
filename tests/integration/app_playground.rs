//! The Playground driven through AccessKit on a tiny-llama project whose vanilla model was
//! trained: one prompt typed, Generate pressed, the base's and vanilla's answers streamed into
//! their columns with their token counts; a second prompt answered by the models kept loaded;
//! and image snapshots of the page, light and dark.

use super::app::{shows, wait_until, window};
use super::app_snapshots::settle;
use crate::pipeline::project;
use dtm_studio::app::pages::playground::column::printable;
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::{OpenTarget, StartRequest, StudioApp};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::pipeline::{run_project, RunOptions};
use eframe::egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::path::Path;

/// Where the snapshot project is made (a fixed path).
const SNAPSHOT_PROJECT: &str = "/tmp/dtm-studio-snapshots/playground";

/// A tiny-llama project in `dir` with the vanilla model trained.
fn project_with_vanilla(dir: &Path) {
    project(dir, "", 4);
    let opts = RunOptions { only: vec!["data".into(), "train:vanilla".into()], ..RunOptions::default() };
    run_project(dir, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
}

/// Types `prompt`, presses Generate and waits until every column has answered.
fn ask(h: &mut Harness<'static, StudioApp>, prompt: &str) {
    let field = h.get_by_role(Role::MultilineTextInput);
    field.focus();
    field.type_text(prompt);
    h.run_steps(2);
    h.get_by_label("Generate").click();
    h.run_steps(2);
    wait_until(h, "both answers", 120, |h| {
        let cols = &h.state().pages.playground.columns;
        !cols.is_empty() && cols.iter().all(|c| !c.is_running() && c.ended.is_some())
    });
}

fn columns(h: &Harness<'static, StudioApp>) -> Vec<String> {
    h.state().pages.playground.columns.iter().map(|c| c.label.clone()).collect()
}

#[test]
fn playground_answers_with_base_and_vanilla_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_vanilla(tmp.path());
    let mut h = window(Some(OpenTarget::Project(tmp.path().to_path_buf())), Some(Page::Playground));
    wait_until(&mut h, "the models that exist", 30, |h| !h.state().pages.playground.available.is_empty());
    assert_eq!(h.state().pages.playground.available, ["base", "vanilla"], "sub-models and merges are not trained yet");
    assert!(shows(&h, "Not trained or merged yet: sub-0, sub-1, average, ties."));
    h.run_steps(2);
    assert_eq!(columns(&h), ["base", "vanilla"]);

    ask(&mut h, "name apple river");
    for c in &h.state().pages.playground.columns {
        let figures = c.ended.as_ref().unwrap().as_ref().unwrap_or_else(|e| panic!("{}: {e}", c.label));
        assert!(figures.tokens > 0 && !c.answer().is_empty(), "{} answered", c.label);
        assert!(c.is_loaded(), "{} keeps its model", c.label);
    }
    h.run_steps(2);
    let answers: Vec<String> = h.state().pages.playground.columns.iter().map(|c| printable(&h.ctx, &c.answer())).collect();
    for a in &answers {
        assert!(h.query_all_by_label(a).next().is_some(), "the answer {a:?} is shown");
    }
    assert_eq!(h.query_all_by_label_contains("tokens/s").count(), 2, "each answer has its tokens per second");
    assert!(shows(&h, "> name apple river"));

    // The second prompt is answered by the models kept loaded.
    h.state_mut().pages.playground.prompt.clear();
    ask(&mut h, "count stone cloud");
    assert!(h.state().pages.playground.columns.iter().all(|c| matches!(c.ended, Some(Ok(_)))));
    assert!(shows(&h, "count stone cloud"));
}

#[test]
fn playground_light_and_dark() {
    let dir = Path::new(SNAPSHOT_PROJECT);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    project_with_vanilla(dir);
    let mut results = egui_kittest::SnapshotResults::new();
    for dark in [false, true] {
        let ctx = eframe::egui::Context::default();
        let settings = Settings { dark, log_open: false, ..Settings::default() };
        let start = StartRequest { target: Some(OpenTarget::Project(dir.into())), page: Some(Page::Playground) };
        let app = StudioApp::new(&ctx, settings, start);
        let mut h = Harness::builder().with_size([1280.0, 760.0]).wgpu().build_ui_state(|ui, app: &mut StudioApp| app.frame_ui(ui), app);
        wait_until(&mut h, "the models", 30, |h| h.state().pages.playground.columns.len() == 2);
        ask(&mut h, "name apple river");
        settle(&mut h, "playground");
        super::app_snapshots::mask_volatile(&mut h);
        let theme = if dark { "dark" } else { "light" };
        results.add(h.try_snapshot(format!("playground-{theme}")));
    }
}
