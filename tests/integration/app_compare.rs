//! The Compare page driven through AccessKit on a tiny-llama project whose every stage ran
//! (base, vanilla, two sub-models and two merges evaluated on a 3-item ARC file): a bar and a
//! table cell for every model and benchmark, the table copied as Markdown, the items whose
//! answer changed between base and vanilla listed with their questions; and image snapshots
//! of the page, light and dark.

use super::app::{shows, wait_until, window};
use super::app_snapshots::settle;
use crate::pipeline::project;
use dtm_studio::app::pages::compare::table::cell_text;
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::{OpenTarget, StartRequest, StudioApp};
use dtm_studio::engine::eval::changed::changed_items;
use dtm_studio::engine::eval::results::ItemResult;
use dtm_studio::engine::eval::BenchmarkResult;
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::pipeline::{run_project, RunOptions};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::path::Path;

/// Every model of the tiny project, in table order.
const MODELS: [&str; 6] = ["base", "vanilla", "sub-0", "sub-1", "average", "ties"];

/// Where the snapshot project is made (a fixed path: the page shows the report's path).
const SNAPSHOT_PROJECT: &str = "/tmp/dtm-studio-snapshots/compare";

/// A tiny-llama project in `dir` with every stage run.
pub fn finished_project(dir: &Path) {
    project(dir, "0.5, 0.5", 4);
    run_project(dir, &RunOptions::default(), &EventSink::discard(), &CancelToken::new()).unwrap();
}

/// Makes vanilla answer the first ARC item differently from the base (the tiny random model may
/// answer all three alike), so that the drill-down has an item to list.
fn make_vanilla_differ(dir: &Path) {
    let base = BenchmarkResult::read(&dir.join("eval/base/arc.json")).unwrap();
    let file = dir.join("eval/vanilla/arc.json");
    let mut vanilla: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let ItemResult::Mc(first) = &base.items[0] else { panic!("ARC items are multiple choice") };
    vanilla["items"][0]["pred"] = serde_json::json!(1 - first.pred);
    // Its accuracy follows the items, as the evaluation would have written it.
    let items = vanilla["items"].as_array().unwrap();
    let right: Vec<f64> = items.iter().map(|i| if i["pred"] == i["gold"] { 1.0 } else { 0.0 }).collect();
    let (n, acc) = (right.len() as f64, right.iter().sum::<f64>() / right.len() as f64);
    vanilla["metrics"]["acc"] = serde_json::json!(acc);
    vanilla["metrics"]["acc_stderr"] = serde_json::json!((acc * (1.0 - acc) / (n - 1.0)).sqrt());
    std::fs::write(&file, vanilla.to_string()).unwrap();
}

fn result(dir: &Path, model: &str) -> BenchmarkResult {
    BenchmarkResult::read(&dir.join(format!("eval/{model}/arc.json"))).unwrap()
}

#[test]
fn compare_shows_every_model_copies_the_table_and_lists_changed_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    finished_project(dir);
    make_vanilla_differ(dir);
    let mut h = window(Some(OpenTarget::Project(dir.to_path_buf())), Some(Page::Compare));
    wait_until(&mut h, "the results of six models", 60, |h| h.state().pages.compare.view.as_ref().is_some_and(|v| v.models.len() == 6));
    h.run_steps(3);

    // A bar per model and benchmark, at the score of its result file, and a table cell each.
    let page = &h.state().pages.compare;
    let view = page.view.as_ref().unwrap();
    assert_eq!(view.models, MODELS.map(String::from).to_vec());
    assert_eq!(view.groups, ["arc"]);
    assert_eq!(page.bars, (6, 5), "six score bars and five tax bars (every model but the base)");
    let row = view.rows.iter().find(|r| r.benchmark == "arc" && r.metric == "acc").expect("an arc acc row");
    for (i, model) in MODELS.iter().enumerate() {
        let acc = result(dir, model).metrics["acc"];
        let (value, _) = view.scores[i].values[0].expect("a bar");
        assert!((value - 100.0 * acc).abs() < 1e-9, "{model}: bar {value} against acc {acc}");
        let cell = cell_text(row, i).unwrap();
        assert!(shows(&h, &cell), "{model}'s cell {cell} is shown");
    }
    assert!(shows(&h, "Alignment tax"), "the tax chart has its title");

    // Copy as Markdown: the clipboard gets the table with every model.
    h.get_by_label("Copy as Markdown").click();
    h.step();
    let copied: Vec<String> = h
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            eframe::egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(copied.len(), 1, "one copy: {copied:?}");
    let md = &copied[0];
    assert!(md.starts_with("| benchmark | metric | base (base) |"), "{md}");
    for model in MODELS {
        assert!(md.contains(model), "{model} missing from\n{md}");
    }
    assert!(md.contains("| arc | acc |") && md.contains("| arc | acc_norm |"), "{md}");
    h.run_steps(2);
    assert!(shows(&h, "Copied the table as Markdown"));

    // The drill-down lists the items base and vanilla answered differently, with their questions.
    let expected = changed_items(&result(dir, "base"), &result(dir, "vanilla"));
    assert!(!expected.is_empty());
    wait_until(&mut h, "the changed items", 30, |h| h.state().pages.compare.drill.shown.is_some());
    h.run_steps(2);
    let shown = h.state().pages.compare.drill.shown.as_ref().unwrap();
    assert_eq!(shown.choice, ("base".into(), "vanilla".into(), "arc".into()));
    assert_eq!(shown.items, expected);
    assert!(shows(&h, &format!("{} of 3 items of arc answered differently", expected.len())));
    assert!(shows(&h, "Which is a planet?"), "the first item's question is listed");
}

#[test]
fn compare_says_what_is_missing_and_runs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    project(dir, "0.5, 0.5", 2);
    let mut h = window(Some(OpenTarget::Project(dir.to_path_buf())), Some(Page::Compare));
    wait_until(&mut h, "the list of missing evaluations", 30, |h| shows(h, "Not evaluated yet (6): eval:base:arc, eval:vanilla:arc"));
    assert!(shows(&h, "No results for the selection yet"));
    h.get_by_label("Run the missing evaluations").click();
    wait_until(&mut h, "the six models' results", 300, |h| {
        h.state().workspace.running().is_none() && h.state().pages.compare.view.as_ref().is_some_and(|v| v.models.len() == 6)
    });
    h.run_steps(3);
    assert!(!shows(&h, "Not evaluated yet"));
    assert_eq!(h.state().pages.compare.bars.0, 6);
    assert!(dir.join("report/report.md").is_file(), "the run ends with the report");
    assert!(shows(&h, &format!("Report: {}", dir.join("report/report.md").display())));
}

#[test]
fn compare_light_and_dark() {
    let dir = Path::new(SNAPSHOT_PROJECT);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    finished_project(dir);
    make_vanilla_differ(dir);
    let mut results = egui_kittest::SnapshotResults::new();
    for dark in [false, true] {
        let ctx = eframe::egui::Context::default();
        let settings = Settings { dark, log_open: false, ..Settings::default() };
        let start = StartRequest { target: Some(OpenTarget::Project(dir.into())), page: Some(Page::Compare) };
        let app = StudioApp::new(&ctx, settings, start);
        let mut h = Harness::builder().with_size([1280.0, 1000.0]).wgpu().build_ui_state(|ui, app: &mut StudioApp| app.frame_ui(ui), app);
        settle(&mut h, "compare");
        assert!(h.state().pages.compare.drill.shown.is_some(), "the drill-down is filled");
        assert_eq!(h.state().pages.compare.bars.0, 6);
        super::app_snapshots::mask_volatile(&mut h);
        let theme = if dark { "dark" } else { "light" };
        results.add(h.try_snapshot(format!("compare-{theme}")));
    }
}
