//! The teaching demo started from the window's first screen (no project open) on its reduced
//! size: it runs on a worker through the pipeline, the project opens with every stage done, and
//! the page of text about what the demo shows and does not show is one click away.

use crate::app::{shows, wait_until, window};
use dtm_studio::engine::demo::DemoSize;
use dtm_studio::engine::pipeline::StageState;
use egui_kittest::kittest::Queryable;

#[test]
fn the_first_screen_runs_the_teaching_demo() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut h = window(None, None);
    h.run_ok();
    assert!(shows(&h, "Teaching demo"), "the first screen offers the demo");
    {
        let offer = &mut h.state_mut().pages.project.demo;
        offer.size = DemoSize::reduced();
        offer.dir = Some(dir.path().join("demo"));
        offer.base_cache = cache.path().to_path_buf();
    }
    h.get_by_label("What the demo shows").click();
    h.run_ok();
    assert!(shows(&h, "What it does not show"), "the explanation is shown");

    h.get_by_label("Run the teaching demo").click();
    h.step();
    assert_eq!(h.state().workspace.running(), Some("demo"));
    wait_until(&mut h, "the demo to finish", 300, |h| h.state().workspace.running().is_none());
    let ended = h.state().workspace.last_run.clone().expect("the run's outcome");
    assert!(ended.1.as_ref().is_ok_and(|r| r.failed().is_empty()), "{:?}", ended.1);
    wait_until(&mut h, "every stage done", 30, |h| {
        let w = &h.state().workspace;
        !w.statuses.is_empty() && w.statuses.iter().all(|s| s.state == StageState::Done)
    });
    assert!(shows(&h, "eval:average:bias_city"), "the project page lists the demo's stages");
    assert!(dir.path().join("demo/report/demo.md").is_file(), "the demo's summary is written");
}
