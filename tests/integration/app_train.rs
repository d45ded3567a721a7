//! The Train page driven through AccessKit on a tiny-llama project whose split is done: the queue
//! started from the page, loss points arriving live, one run stopped (it writes a checkpoint)
//! while the others go on, then resumed from that checkpoint; failed runs (no example fits in
//! max length) shown with their message and what to change; images of the page light and dark with curves; and the
//! frame time with four curves of 5,000 points.

use super::app::{shows, wait_until, window};
use crate::pipeline::project;
use dtm_studio::app::activity::RunOutcome;
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::{OpenTarget, StartRequest, StudioApp};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::pipeline::{run_project, set_settings, RunOptions, StageState};
use dtm_studio::engine::train::state::{RunStatus, TrainerState};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::path::Path;

/// A tiny-llama project of `steps` training steps with its split done.
fn split_project(dir: &Path, steps: u64, changes: &[(&str, toml_edit::Value)]) {
    project(dir, "", steps);
    let mut all: Vec<(String, toml_edit::Value)> = vec![("train.eval_every".into(), 5.into()), ("train.save_every".into(), 5.into())];
    all.extend(changes.iter().map(|(k, v)| (k.to_string(), v.clone())));
    set_settings(dir, &all).unwrap();
    let opts = RunOptions { only: vec!["data".into(), "embed".into(), "cluster".into()], ..RunOptions::default() };
    run_project(dir, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
}

fn train_window(dir: &Path) -> Harness<'static, StudioApp> {
    let mut h = window(Some(OpenTarget::Project(dir.to_path_buf())), Some(Page::Train));
    wait_until(&mut h, "the runs to be listed", 30, |h| shows(h, "Start sub-1"));
    h
}

fn stage_state(h: &Harness<'static, StudioApp>, stage: &str) -> Option<StageState> {
    h.state().workspace.status(stage).map(|s| s.state)
}

#[test]
fn app_train_queue_stop_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that the run is still training when its Stop button is pressed.
    const STEPS: u64 = 200;
    split_project(dir.path(), STEPS, &[]);
    let mut h = train_window(dir.path());
    assert!(shows(&h, "No loss yet"), "an empty chart says why");
    assert!(shows(&h, "Learning rate") && shows(&h, "paper 3e-4"), "the settings show the paper's values");

    h.get_by_label("Train all").click();
    wait_until(&mut h, "a run training with loss points", 120, |h| {
        h.state().activity.running.iter().any(|r| r.stage.starts_with("train "))
            && h.state().activity.runs.values().any(|r| r.steps.len() >= 3)
    });
    let run = h.state().activity.running.iter().find_map(|r| r.stage.strip_prefix("train ")).unwrap().to_string();
    assert!(!shows(&h, "No loss yet"), "the chart draws the live points");
    // A click can miss when the row's widgets are rebuilt in the frame it lands (the tiny run
    // trains a step every few milliseconds): press again while the run still offers Stop.
    for attempt in 0..5 {
        if shows(&h, "stopped at step") || h.query_by_label(&format!("Stop {run}")).is_none() {
            break;
        }
        if attempt > 0 {
            eprintln!("Stop {run} pressed again (attempt {})", attempt + 1);
        }
        h.get_by_label(&format!("Stop {run}")).click();
        let pressed = std::time::Instant::now();
        while pressed.elapsed() < std::time::Duration::from_secs(3) && !shows(&h, "stopped at step") {
            h.step();
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
    }
    wait_until(&mut h, "the stopped run's state", 300, |h| shows(h, "stopped at step"));
    let stopped = TrainerState::read(&dir.path().join("train").join(&run)).unwrap().unwrap();
    assert_eq!(stopped.status, RunStatus::Cancelled);
    let checkpoint = stopped.checkpoint_step.expect("a stopped run keeps a checkpoint");
    assert!(checkpoint > 0 && checkpoint < STEPS, "stopped at {checkpoint}");

    // A run that finishes while the others train leaves the queue at once.
    let finished = |h: &Harness<'static, StudioApp>| {
        let runs = &h.state().activity.runs;
        runs.iter().find(|(_, r)| matches!(r.outcome, Some((RunOutcome::Done, _)))).map(|(name, _)| name.clone())
    };
    wait_until(&mut h, "a run done while another trains", 300, |h| h.state().workspace.running().is_some() && finished(h).is_some());
    h.step();
    let first = finished(&h).unwrap();
    assert!(shows(&h, &format!("Train again {first}")), "{first} is done, not queued");

    // The other runs go on while the stopped one waits.
    wait_until(&mut h, "the other runs to finish", 300, |h| {
        h.state()
            .workspace
            .statuses
            .iter()
            .filter(|s| s.stage.starts_with("train:"))
            .all(|s| s.stage == format!("train:{run}") || s.state == StageState::Done)
    });
    assert_ne!(stage_state(&h, &format!("train:{run}")), Some(StageState::Done));

    // Resumed, it continues from its checkpoint: its first live step is the one after it.
    h.state_mut().activity.runs.remove(&run);
    h.get_by_label(&format!("Resume {run}")).click();
    wait_until(&mut h, "the resumed run to finish", 300, |h| stage_state(h, &format!("train:{run}")) == Some(StageState::Done));
    let live = h.state().activity.runs.get(&run).expect("live points of the resumed run");
    assert_eq!(live.steps.first().map(|p| p[0] as u64), Some(checkpoint + 1), "resumed after its checkpoint");
    let done = TrainerState::read(&dir.path().join("train").join(&run)).unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Finished);
    assert_eq!(done.log.iter().map(|e| e.step).collect::<Vec<_>>(), (1..=STEPS).collect::<Vec<_>>(), "one curve, no step twice");
    wait_until(&mut h, "every row done", 30, |h| !shows(h, "stopped at step") && !shows(h, "queued"));
    assert!(shows(&h, "Loss-reduction ratio"), "the ratio charts are drawn");
    assert!(h.state().pages.train.queue.wanted.is_empty());
}

#[test]
fn app_train_a_failed_run_says_why_and_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    // Four tokens hold no prompt with its response: every example is dropped.
    split_project(dir.path(), 6, &[("train.max_len", 4.into()), ("train.vanilla", false.into())]);
    let mut h = train_window(dir.path());
    h.get_by_label("Train all").click();
    wait_until(&mut h, "the runs to fail", 120, |h| {
        h.state().workspace.running().is_none()
            && h.state().workspace.statuses.iter().filter(|s| s.stage.starts_with("train:")).all(|s| s.state == StageState::Failed)
    });
    wait_until(&mut h, "the failure shown", 20, |h| shows(h, "sub-0 failed:") && shows(h, "sub-1 failed:"));
    assert!(shows(&h, "no examples left to train on"), "the trainer's message is shown");
    assert!(shows(&h, "raise max length"), "and what to change");
    assert!(shows(&h, "Retry sub-0"));
}

/// `cargo nextest run -E 'test(app_train_frame_time)' --no-capture`: the Train page with four
/// loss curves of 5,000 points each.
#[test]
fn app_train_frame_time_with_four_long_curves() {
    let opts = dtm_studio::app::bench::TrainBenchOptions { runs: 4, points: 5_000, frames: 60, size: [1280.0, 800.0] };
    let figure = dtm_studio::app::bench::measure_train(&opts);
    println!("{}", serde_json::to_string(&figure).unwrap());
    assert!(figure.frame_ms_median < 16.0, "a frame takes {} ms of CPU", figure.frame_ms_median);
}

/// Where the snapshot project is made (a fixed path, shown in the window's title bar).
const SNAPSHOT_PROJECT: &str = "/tmp/dtm-studio-snapshots/train";

#[test]
fn app_train_snapshots_light_and_dark() {
    let dir = Path::new(SNAPSHOT_PROJECT);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    split_project(dir, 30, &[("train.eval_every", 3.into())]);
    let opts = RunOptions { only: vec!["train:*".into()], ..RunOptions::default() };
    run_project(dir, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
    for entry in std::fs::read_dir(dir.join(".dtm/stages")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            record["seconds"] = serde_json::json!(1.0);
            std::fs::write(&path, record.to_string()).unwrap();
        }
    }
    let mut results = egui_kittest::SnapshotResults::new();
    for dark in [false, true] {
        let ctx = eframe::egui::Context::default();
        let settings = Settings { dark, log_open: false, ..Settings::default() };
        let app = StudioApp::new(&ctx, settings, StartRequest { target: Some(OpenTarget::Project(dir.into())), page: Some(Page::Train) });
        let mut h = Harness::builder().with_size([1280.0, 1100.0]).wgpu().build_ui_state(|ui, app: &mut StudioApp| app.frame_ui(ui), app);
        super::app_snapshots::settle(&mut h, "train");
        assert!(shows(&h, "Train again sub-1") && !shows(&h, "No loss yet"), "finished runs with their curves");
        super::app_snapshots::mask_volatile(&mut h);
        results.add(h.try_snapshot(if dark { "train-dark" } else { "train-light" }));
    }
}
