//! Helpers shared by the integration tests.
#![allow(dead_code)]

use candle_core::Device;
use dtm_studio::engine::model::{load_model, LoadOptions, LoadedModel};
use std::path::PathBuf;

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
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(candle_core::DType::F32), adapter: None };
    load_model(path.to_str().unwrap(), &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// SmolLM2's GGUF, or `None` with a message saying the test is skipped.
pub fn smollm2_or_skip(test: &str) -> Option<PathBuf> {
    let found = dtm_studio::engine::known_models::smollm2_gguf();
    if found.is_none() {
        eprintln!(
            "SKIPPED {test}: SmolLM2 GGUF not found in {:?}; run scripts/fetch-test-models.sh",
            dtm_studio::engine::known_models::model_dirs()
        );
    }
    found
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
