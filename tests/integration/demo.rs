//! The teaching demo end to end on its reduced size (seconds): the world's files, a base model
//! trained from scratch, every pipeline stage, and the summary table complete and finite; a
//! second run takes the base model from the cache and finds every stage done.

use dtm_studio::engine::demo::summary::COLUMNS;
use dtm_studio::engine::demo::{run_demo, DemoRequest, DemoSize};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::pipeline::Action;

#[test]
fn a_reduced_demo_runs_end_to_end_and_its_table_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let req = DemoRequest { base_cache: cache.path().to_path_buf(), ..DemoRequest::new(dir.path().join("demo"), 7, DemoSize::reduced()) };
    let (run, summary) = run_demo(&req, &EventSink::discard(), &CancelToken::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(run.failed().is_empty(), "{:?}", run.failed());
    let labels: Vec<&str> = summary.models.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["base", "vanilla", "sub-0", "sub-1", "sub-2", "sub-3", "average"]);
    for m in &summary.models {
        for (bench, _) in COLUMNS {
            let x = m.scores[bench];
            assert!(x.is_finite() && (0.0..=1.0).contains(&x), "{} on {bench}: {x}", m.label);
        }
        assert_eq!(m.family.is_some(), m.label.starts_with("sub-"), "{}", m.label);
    }
    assert!(summary.tax("vanilla", "knowledge").is_finite() && summary.tax("average", "knowledge").is_finite());
    assert_eq!(summary.portions.len(), 4);
    assert!(summary.purity.is_finite() && summary.adjusted_rand.is_finite());
    assert!(!summary.base_cached);
    for group in ["base model", "data", "disperse", "train", "merge", "eval", "report"] {
        let secs = summary.stage_seconds.iter().find(|(g, _)| g == group).map(|(_, s)| *s);
        assert!(secs.is_some_and(|s| s > 0.0), "no time for {group}: {:?}", summary.stage_seconds);
    }
    let root = &req.dir;
    let md = std::fs::read_to_string(root.join("report/demo.md")).unwrap();
    assert!(md.contains("| average |") && md.contains("What it does not show"), "{md}");
    assert!(root.join("report/report.md").is_file() && root.join("base-model/model.safetensors").is_file());
    let toml = std::fs::read_to_string(root.join("dtm.toml")).unwrap();
    assert!(toml.contains("name = \"knowledge\"") && toml.contains("max_new_tokens = 32"), "{toml}");

    // Again: the base model comes from the cache and no stage runs.
    let (again, summary) = run_demo(&req, &EventSink::discard(), &CancelToken::new()).unwrap();
    assert!(summary.base_cached);
    assert!(again.stages.iter().all(|(_, a)| *a == Action::Done), "{:?}", again.stages);

    // Another seed in the same folder is refused with a message that says what to do.
    let other = DemoRequest { seed: 8, ..req.clone() };
    let err = run_demo(&other, &EventSink::discard(), &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("seed 7") && err.contains("another folder"), "{err}");
}
