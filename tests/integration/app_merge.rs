//! The Merge page driven through AccessKit on a tiny-llama project trained in the test: a weight
//! slider moved and the preview's figure changes; a sweep draws its points; the merge on show
//! added to dtm.toml as a named `[[merge]]`; the page says what it needs without trained
//! sub-models. Image snapshots of the page with data in it, light and dark (`merge-light`,
//! `merge-dark`).

use super::app::{shows, wait_until, window};
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::{OpenTarget, StartRequest, StudioApp};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::pipeline::{run_project, RunOptions};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::path::Path;

/// Where the snapshot project is made (a fixed path, so the images do not depend on it).
const SNAPSHOT_PROJECT: &str = "/tmp/dtm-studio-snapshots/merge";

/// Writes the tiny-llama project of the pipeline tests in `dir` and trains its sub-models and
/// vanilla model; stage times are set to one second so that the page looks the same every run.
fn trained_project(dir: &Path) {
    crate::pipeline::project(dir, "", 4);
    let only = ["data", "embed", "cluster", "train:*"].map(String::from).to_vec();
    run_project(dir, &RunOptions { only, ..RunOptions::default() }, &EventSink::discard(), &CancelToken::new()).unwrap();
    for entry in std::fs::read_dir(dir.join(".dtm/stages")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            record["seconds"] = serde_json::json!(1.0);
            std::fs::write(&path, record.to_string()).unwrap();
        }
    }
}

/// The preview's one-line summary as the window shows it.
fn summary(h: &Harness<'static, StudioApp>) -> String {
    // A label's text is its AccessKit value.
    h.query_all_by_label_contains("Preview: ")
        .filter_map(|n| n.accesskit_node().value().or(n.accesskit_node().label()))
        .next()
        .unwrap_or_default()
}

fn preview_complete(h: &Harness<'static, StudioApp>) -> bool {
    let live = &h.state().pages.merge.live;
    live.current.complete && !live.is_scoring()
}

#[test]
fn move_a_weight_sweep_it_and_add_the_merge_to_the_project() {
    let dir = tempfile::tempdir().unwrap();
    trained_project(dir.path());
    let mut h = window(Some(OpenTarget::Project(dir.path().to_path_buf())), Some(Page::Merge));
    wait_until(&mut h, "the first preview", 120, preview_complete);
    let first = summary(&h);
    assert!(first.contains("mean held-out loss") && first.contains("accuracy"), "{first}");
    assert_eq!(h.state().pages.merge.live.points.len(), 1, "the first setting is a point on the chart");

    // The weight set to 1.5 through AccessKit, as a screen reader sets a slider's value.
    h.get_by_label("Weight of sub-0").set_value_accesskit(1.5);
    h.step();
    assert!(h.state().pages.merge.form.weights[0] > 1.2, "the slider moved: {:?}", h.state().pages.merge.form.weights);
    wait_until(&mut h, "the preview of the new weights", 120, |h| preview_complete(h) && summary(h) != first);
    let second = summary(&h);
    assert_ne!(first, second, "moving a weight changes the preview");
    wait_until(&mut h, "the reference figures", 120, |h| h.state().pages.merge.live.references_done);
    assert!(shows(&h, "Accuracy on the same items: base"), "the references' accuracy is listed");

    h.get_by_label("Sweep sub-0").click();
    wait_until(&mut h, "the sweep", 180, |h| {
        let live = &h.state().pages.merge.live;
        live.sweeping.is_none() && live.points.iter().filter(|p| p.from_sweep).count() == 6
    });
    let shares: Vec<f64> = h.state().pages.merge.live.points.iter().filter(|p| p.from_sweep).map(|p| p.shares[0]).collect();
    assert_eq!(shares.first().copied(), Some(0.0));
    assert!((shares.last().unwrap() - 1.0).abs() < 1e-9, "{shares:?}");
    assert!(shows(&h, "8 points"), "two settings tried and six swept");

    h.get_by_label("Merge name").focus();
    h.step();
    h.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::A);
    h.get_by_label("Merge name").type_text("tilted");
    h.step();
    h.get_by_label("Add to dtm.toml").click();
    wait_until(&mut h, "the merge in dtm.toml", 30, |h| {
        h.state().workspace.project().is_some_and(|p| p.merges.iter().any(|m| m.name == "tilted"))
    });
    let text = std::fs::read_to_string(dir.path().join("dtm.toml")).unwrap();
    let entry = &text[text.find("name = \"tilted\"").expect("a [[merge]] named tilted")..];
    assert!(text.matches("[[merge]]").count() == 3, "a third [[merge]] entry:\n{text}");
    assert!(entry.contains("method = \"linear\"") && entry.contains("weights = [1.5"), "{entry}");
    let plan = h.state().workspace.project().unwrap().merges.iter().find(|m| m.name == "tilted").unwrap().clone();
    assert_eq!(plan.spec.weight_values(2)[0], vec![1.5]);
    assert!(shows(&h, "merge:tilted"), "the new merge is a pipeline stage on the page");
}

#[test]
fn without_trained_sub_models_the_page_says_so() {
    let dir = tempfile::tempdir().unwrap();
    crate::pipeline::project(dir.path(), "", 2);
    let mut h = window(Some(OpenTarget::Project(dir.path().to_path_buf())), Some(Page::Merge));
    wait_until(&mut h, "the project", 30, |h| h.state().workspace.project().is_some());
    assert!(shows(&h, "This step needs trained sub-models"));
    h.get_by_label("go to Train").click();
    h.step();
    h.step();
    assert_eq!(h.state().page, Page::Train);
}

#[test]
fn merge_page_light_and_dark() {
    let dir = Path::new(SNAPSHOT_PROJECT);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    trained_project(dir);
    let mut results = egui_kittest::SnapshotResults::new();
    for dark in [false, true] {
        let ctx = eframe::egui::Context::default();
        let settings = Settings { dark, log_open: false, ..Settings::default() };
        let app = StudioApp::new(&ctx, settings, StartRequest { target: Some(OpenTarget::Project(dir.into())), page: Some(Page::Merge) });
        let mut h = Harness::builder().with_size([1280.0, 900.0]).wgpu().build_ui_state(|ui, app: &mut StudioApp| app.frame_ui(ui), app);
        wait_until(&mut h, "the first preview and the references", 120, |h| {
            preview_complete(h) && h.state().pages.merge.live.references_done
        });
        h.get_by_label("Sweep sub-0").click();
        wait_until(&mut h, "the sweep", 180, |h| h.state().pages.merge.live.points.iter().filter(|p| p.from_sweep).count() == 6);
        super::app_snapshots::settle(&mut h, "merge");
        assert!(shows(&h, "Preview: mean held-out loss"), "the preview's figures are drawn");
        super::app_snapshots::mask_volatile(&mut h);
        results.add(h.try_snapshot(format!("merge-{}", if dark { "dark" } else { "light" })));
    }
}
