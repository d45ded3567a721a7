//! Helpers shared by the integration tests.
#![allow(dead_code)]

use candle_core::Device;
use dtm_studio::engine::model::lora::LoraSpec;
use dtm_studio::engine::model::{load_model, LoadOptions, LoadedModel};
use dtm_studio::engine::train::batch::TokenSequence;
use dtm_studio::engine::train::TrainConfig;
use std::path::{Path, PathBuf};

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name)
}

/// Reads a JSON fixture.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Loads a model on the CPU in f32.
pub fn load_cpu_f32(path: &std::path::Path) -> LoadedModel {
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(candle_core::DType::F32), adapter: None, ..Default::default() };
    load_model(path.to_str().unwrap(), &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether a missing model or data file fails the test instead of skipping it: the environment
/// variable `CI` is set and not empty (CI runs with `CI=true`).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// The one rule for an input a test needs. Present (`found` is `Some`): the path. Missing: under
/// CI, `Err` with a message saying what is missing, that CI must have it and `how` to provide it;
/// otherwise a `SKIPPED {test}: {what}; {how}` line on stderr and `Ok(None)`.
pub fn require(test: &str, found: Option<PathBuf>, what: &str, how: &str, ci: bool) -> Result<Option<PathBuf>, String> {
    match found {
        Some(p) => Ok(Some(p)),
        None if ci => Err(format!(
            "{test}: {what}. CI (the environment variable CI is set) must have every test input, so this test fails \
             instead of being skipped; {how}"
        )),
        None => {
            eprintln!("SKIPPED {test}: {what}; {how}");
            Ok(None)
        }
    }
}

/// [`require`]'s answer as a test uses it: the CI error becomes a panic, which fails the test.
pub fn or_fail(r: Result<Option<PathBuf>, String>) -> Option<PathBuf> {
    r.unwrap_or_else(|msg| panic!("{msg}"))
}

/// The shared data folder: `$DTM_DATA_DIR`, by default `<crate root>/../shared/data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("DTM_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// `base` joined with `rel` when it exists (a file or a folder), under [`require`]'s rule.
pub fn data_file_in(test: &str, base: &Path, rel: &str, ci: bool) -> Result<Option<PathBuf>, String> {
    let p = base.join(rel);
    let what = format!("{} not found", p.display());
    let how = format!("set DTM_DATA_DIR to the shared data folder (the one holding `{rel}`; default <crate root>/../shared/data)");
    require(test, p.exists().then_some(p), &what, &how, ci)
}

/// A shared data file or folder (`rel` under [`data_dir`]). Missing: panics under CI, otherwise
/// prints `SKIPPED {test}: ... not found (set DTM_DATA_DIR ...)` and returns `None`.
pub fn data_file(test: &str, rel: &str) -> Option<PathBuf> {
    or_fail(data_file_in(test, &data_dir(), rel, in_ci()))
}

/// How to get the test models.
const FETCH_MODELS: &str = "run scripts/fetch-test-models.sh (it unpacks them into $DTM_MODELS_DIR, default ~/.cache/dtm-studio/models)";

/// SmolLM2's GGUF. Missing: panics under CI, otherwise prints a SKIPPED line and returns `None`.
pub fn smollm2_or_skip(test: &str) -> Option<PathBuf> {
    let dirs = dtm_studio::engine::known_models::model_dirs();
    let found = dtm_studio::engine::known_models::smollm2_gguf();
    or_fail(require(test, found, &format!("SmolLM2 GGUF not found in {dirs:?}"), FETCH_MODELS, in_ci()))
}

/// all-MiniLM-L6-v2's folder. Missing: panics under CI, otherwise prints a SKIPPED line and
/// returns `None`.
pub fn minilm_or_skip(test: &str) -> Option<PathBuf> {
    let dirs = dtm_studio::engine::known_models::model_dirs();
    let found = dtm_studio::engine::known_models::minilm_dir();
    or_fail(require(test, found, &format!("all-MiniLM-L6-v2 not found in {dirs:?}"), FETCH_MODELS, in_ci()))
}

/// Copies a fixture model folder into a temporary folder (for tests that damage it).
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The missing-input rule, with the CI flag and the base folder as parameters so the check does
/// not depend on this process's environment.
#[test]
fn common_missing_inputs_fail_under_ci_and_skip_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bench")).unwrap();
    std::fs::write(dir.path().join("bench/here.jsonl"), "{}\n").unwrap();
    let t = "common_rule";
    // Present: the path, with or without CI (files and folders alike).
    for ci in [false, true] {
        assert_eq!(data_file_in(t, dir.path(), "bench/here.jsonl", ci), Ok(Some(dir.path().join("bench/here.jsonl"))));
        assert_eq!(data_file_in(t, dir.path(), "bench", ci), Ok(Some(dir.path().join("bench"))));
    }
    // Missing, not CI: skipped.
    assert_eq!(data_file_in(t, dir.path(), "bench/absent.jsonl", false), Ok(None));
    // Missing under CI: an error naming the file, CI and DTM_DATA_DIR.
    let err = data_file_in(t, dir.path(), "bench/absent.jsonl", true).unwrap_err();
    let missing = dir.path().join("bench/absent.jsonl");
    assert!(err.contains(&missing.display().to_string()) && err.contains("CI") && err.contains("DTM_DATA_DIR"), "{err}");
    assert!(err.starts_with("common_rule: "), "{err}");
    // The same rule for models.
    assert_eq!(require(t, None, "model X not found", "fetch it", false), Ok(None));
    let err = require(t, None, "model X not found", "fetch it", true).unwrap_err();
    assert!(err.contains("model X not found") && err.contains("fetch it") && err.contains("CI"), "{err}");
    assert_eq!(require(t, Some(PathBuf::from("/m")), "model X not found", "fetch it", true), Ok(Some(PathBuf::from("/m"))));
}

/// What a test does with the rule under CI: it panics (so it fails) with the message.
#[test]
#[should_panic(expected = "must have every test input")]
fn common_missing_input_panics_under_ci() {
    let dir = tempfile::tempdir().unwrap();
    or_fail(data_file_in("common_panics", dir.path(), "nope.json", true));
}

/// Counting sequences (s, s+1, s+2, ...) with the loss on all but the first four tokens.
pub fn counting_data(n: usize, offset: u32) -> Vec<TokenSequence> {
    (0..n)
        .map(|i| {
            let start = 10 + (i as u32 * 7 + offset) % 200;
            let input_ids: Vec<u32> = (0..12).map(|j| start + j).collect();
            let labels = input_ids.iter().enumerate().map(|(j, &t)| if j < 4 { -100 } else { t as i64 }).collect();
            TokenSequence { input_ids, labels }
        })
        .collect()
}

/// Short sequences of varied token ids (below 245) with the loss on all but the first three.
pub fn mixed_sequences(n: usize) -> Vec<TokenSequence> {
    (0..n)
        .map(|i| {
            let input_ids: Vec<u32> = (0..14).map(|j| 5 + ((i as u32 * 13 + j * 7) % 240)).collect();
            let labels = input_ids.iter().enumerate().map(|(j, &t)| if j < 3 { -100 } else { t as i64 }).collect();
            TokenSequence { input_ids, labels }
        })
        .collect()
}

/// Rank-4 adapters (alpha 8, dropout 0.1) on every linear layer.
pub fn lora_everywhere() -> LoraSpec {
    LoraSpec { rank: 4, alpha: 8.0, dropout: 0.1, targets: vec!["all-linear".into()], use_rslora: false }
}

/// A few steps on a tiny model: [`lora_everywhere`], lr 1e-2 after 2 warm-up steps, micro-batch
/// 4 x 2, 64 tokens, validation on 8 examples every `eval_every` steps, no checkpoints between.
pub fn tiny_train(max_steps: u64, eval_every: u64) -> TrainConfig {
    TrainConfig {
        lora: lora_everywhere(),
        learning_rate: 1e-2,
        warmup_steps: 2,
        micro_batch: 4,
        grad_accum: 2,
        max_steps: Some(max_steps),
        max_len: 64,
        eval_every,
        eval_examples: 8,
        save_every: 0,
        ..TrainConfig::quick()
    }
}

/// A tensor's values as f64.
pub fn flat_f64(t: &candle_core::Tensor) -> Vec<f64> {
    t.to_dtype(candle_core::DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()
}
