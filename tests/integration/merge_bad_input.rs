//! Bad merge input gives errors that name the file, tensor or setting at fault.

use crate::common::fixture;
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::merge::full::FullOptions;
use dtm_studio::engine::merge::spec::parse_weights;
use dtm_studio::engine::merge::{run_merge, MergeError, MergeMethod, MergeOutput, MergeRequest, MergeSpec};
use std::path::{Path, PathBuf};

fn sub(i: usize) -> PathBuf {
    fixture("merge-tiny").join(format!("sub-{i}"))
}

fn try_merge(base: &str, adapters: Vec<PathBuf>, spec: MergeSpec, out: &Path) -> Result<(), MergeError> {
    let req = MergeRequest {
        base: base.into(),
        adapters,
        spec,
        output: MergeOutput::Full,
        out: out.to_path_buf(),
        full: FullOptions::default(),
        overwrite: false,
    };
    run_merge(&req, &EventSink::discard(), &CancelToken::new()).map(|_| ())
}

fn llama() -> String {
    fixture("tiny-llama").to_string_lossy().into_owned()
}

#[test]
fn merge_adapter_for_another_base_names_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    // tiny-mistral's q_proj is [128, 64]; sub-0 was made for tiny-llama's [64, 64].
    let base = fixture("tiny-mistral").to_string_lossy().into_owned();
    let err = try_merge(&base, vec![sub(0)], MergeSpec::new(MergeMethod::Linear), &dir.path().join("o")).unwrap_err().to_string();
    assert!(err.contains("sub-0/adapter_model.safetensors"), "{err}");
    assert!(err.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight") && err.contains("different base"), "{err}");
    assert!(!dir.path().join("o").exists(), "nothing is left behind");
}

#[test]
fn merge_missing_adapter_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::copy(sub(0).join("adapter_model.safetensors"), broken.join("adapter_model.safetensors")).unwrap();
    let err = try_merge(&llama(), vec![sub(1), broken.clone()], MergeSpec::new(MergeMethod::Linear), &dir.path().join("o"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken/adapter_config.json"), "{err}");
}

#[test]
fn merge_settings_errors_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let mut spec = MergeSpec::new(MergeMethod::Linear);
    spec.weights = Some(parse_weights("0.5,0.3,0.2").unwrap());
    let err = try_merge(&llama(), vec![sub(0), sub(1)], spec, &out).unwrap_err().to_string();
    assert!(err.contains("3 values but 2 adapters"), "{err}");

    let mut spec = MergeSpec::new(MergeMethod::Ties);
    spec.density = Some(vec![-0.5]);
    let err = try_merge(&llama(), vec![sub(0), sub(1)], spec, &out).unwrap_err().to_string();
    assert!(err.contains("density -0.5") && err.contains("(0, 1]"), "{err}");

    let err = try_merge(&llama(), vec![sub(0), sub(1)], MergeSpec::new(MergeMethod::LoraParamAverage), &out).unwrap_err().to_string();
    assert!(err.contains("model.layers.1.mlp.") && err.contains("same rank") && err.contains("rank 2"), "{err}");
}

#[test]
fn merge_fisher_without_diagonals_and_existing_output_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(sub(2).join(f), plain.join(f)).unwrap();
    }
    let err = try_merge(&llama(), vec![sub(0), plain], MergeSpec::new(MergeMethod::Fisher), &dir.path().join("o")).unwrap_err().to_string();
    assert!(err.contains("plain/fisher.safetensors") && err.contains("missing"), "{err}");

    let taken = dir.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("keep.txt"), "x").unwrap();
    let err = try_merge(&llama(), vec![sub(0)], MergeSpec::new(MergeMethod::Linear), &taken).unwrap_err();
    assert!(matches!(err, MergeError::OutputExists { .. }) && err.to_string().contains("allow `overwrite`"), "{err}");
    assert!(taken.join("keep.txt").is_file());
}

#[test]
fn merge_cli_reports_bad_weights_and_negative_density() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio"))
            .args(["merge", "--base", &llama(), "--adapters"])
            .arg(sub(0))
            .arg(sub(2))
            .args(extra)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (ok, err, _) = run(&["--weights", "1,2,3"]);
    assert!(!ok && err.contains("3 values but 2 adapters"), "{err}");
    let (ok, err, _) = run(&["--method", "ties", "--density", "-0.5"]);
    assert!(!ok && err.contains("density -0.5"), "{err}");
    let (ok, err, stdout) = run(&["--method", "ties", "--density", "0.5", "--rank", "4"]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["method"], "ties");
    assert!(summary["max_rel_error"].as_f64().unwrap() > 0.0);
    assert!(out.join("adapter_model.safetensors").is_file() && out.join("merge.yaml").is_file());
}
