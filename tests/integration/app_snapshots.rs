//! Image snapshots of the pages Project, Data, Base model and Disperse, light and dark, rendered
//! through wgpu on a software adapter (Mesa's lavapipe, installed by scripts/test.sh). The
//! images live in `tests/snapshots/` and the README shows them; `UPDATE_SNAPSHOTS=1` renews
//! them. The project sits at a fixed path so that the paths the pages show are the same on
//! every machine; the process's and the machine's memory figures are masked.

use super::app::{shows, small_project};
use crate::common::smollm2_or_skip;
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::{OpenTarget, StartRequest, StudioApp};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::pipeline::{run_project, RunOptions};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::path::Path;
use std::time::{Duration, Instant};

/// Where the snapshot project is made (a fixed path, shown in the pages).
const PROJECT: &str = "/tmp/dtm-studio-snapshots/demo";

/// Steps until the window asks for no more repaints twice in a row (every wait shows a spinner).
pub fn settle(h: &mut Harness<'static, StudioApp>, what: &str) {
    let start = Instant::now();
    let mut quiet = 0;
    while quiet < 3 {
        assert!(start.elapsed() < Duration::from_secs(120), "{what} did not settle in 120 s");
        quiet = if h.try_run().is_ok() { quiet + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn project_with_split(model: &Path) {
    let dir = Path::new(PROJECT);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    std::os::unix::fs::symlink(model, dir.join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    small_project(dir, Path::new("SmolLM2-135M-Instruct.Q4_1.gguf"));
    let opts = RunOptions { only: vec!["data".into(), "embed".into(), "cluster".into()], ..RunOptions::default() };
    run_project(dir, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
    // Stage times differ from run to run; the pages show them, the images must not change.
    for entry in std::fs::read_dir(dir.join(".dtm/stages")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            record["seconds"] = serde_json::json!(1.0);
            std::fs::write(&path, record.to_string()).unwrap();
        }
    }
}

/// Masks what changes from run to run: the process's memory, the machine's free memory (also
/// the value of the device menu) and decoding speeds.
pub fn mask_volatile(h: &mut Harness<'static, StudioApp>) {
    let volatile: Vec<_> = h
        .query_all_by_label_contains("")
        .filter(|n| {
            let node = n.accesskit_node();
            let text = format!("{} {}", node.label().unwrap_or_default(), node.value().unwrap_or_default());
            text.trim_start().starts_with("memory ") || ["B free", " to spare", "tokens/s", "tok/s"].iter().any(|v| text.contains(v))
        })
        .map(|n| n.rect())
        .collect();
    for rect in volatile {
        h.mask(rect);
    }
}

#[test]
fn every_page_of_the_first_half_light_and_dark() {
    let Some(model) = smollm2_or_skip("every_page_of_the_first_half_light_and_dark") else { return };
    project_with_split(&model);
    let mut results = egui_kittest::SnapshotResults::new();
    for dark in [false, true] {
        for page in [Page::Project, Page::Data, Page::BaseModel, Page::Disperse] {
            let ctx = eframe::egui::Context::default();
            let settings = Settings { dark, log_open: false, ..Settings::default() };
            let app = StudioApp::new(&ctx, settings, StartRequest { target: Some(OpenTarget::Project(PROJECT.into())), page: Some(page) });
            let mut h =
                Harness::builder().with_size([1280.0, 860.0]).wgpu().build_ui_state(|ui, app: &mut StudioApp| app.frame_ui(ui), app);
            if page == Page::Disperse {
                // The map's data is read on a worker: wait for it before the window settles.
                super::app::wait_until(&mut h, "the map's legend", 60, |h| shows(h, "Portion 0 ·"));
            }
            settle(&mut h, page.title());
            assert!(h.state().workspace.project().is_some(), "the project was read");
            mask_volatile(&mut h);
            let theme = if dark { "dark" } else { "light" };
            results.add(h.try_snapshot(format!("{}-{theme}", page.title().to_lowercase().replace(' ', "-"))));
        }
    }
}
