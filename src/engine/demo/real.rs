//! The second built-in project: the same method on a real small model (SmolLM2-135M-Instruct,
//! from the models `scripts/fetch-test-models.sh` fetches) and real Alpaca data with ARC-Easy and
//! IFEval, when they are on this machine. Slower (a CPU trains it in tens of minutes), and on
//! this little data it shows no measurable tax: it is there to try the method on a real model.

use super::error::DemoError;
use crate::engine::known_models::smollm2_gguf;
use crate::engine::pipeline::{init_project, set_settings, InitRequest, PROJECT_FILE};
use std::path::{Path, PathBuf};
use toml_edit::Value;

/// The shared data folder: `$DTM_DATA_DIR` (with `instruct/` and `bench/` inside).
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("DTM_DATA_DIR").map(PathBuf::from).filter(|d| d.join("instruct/alpaca_en_demo.json").is_file())
}

/// The model and data folder, when both are here.
pub fn available() -> Option<(PathBuf, PathBuf)> {
    Some((smollm2_gguf()?, data_dir()?))
}

/// Writes the real-model project into `dir` (its files are referred to, not copied). An
/// existing `dtm.toml` is kept.
pub fn prepare_real(dir: &Path, seed: u64) -> Result<(), DemoError> {
    let Some((model, data)) = available() else {
        return Err(DemoError::Folder {
            path: dir.to_path_buf(),
            detail: "the real-model project needs SmolLM2-135M-Instruct (run scripts/fetch-test-models.sh) and DTM_DATA_DIR set to a data folder with instruct/alpaca_en_demo.json, bench/arc_easy_dev.jsonl and bench/ifeval_input_data.jsonl".into(),
        });
    };
    if dir.join(PROJECT_FILE).is_file() {
        return Ok(());
    }
    let req = InitRequest {
        dir: dir.to_path_buf(),
        model: model.to_string_lossy().into_owned(),
        data: data.join("instruct/alpaca_en_demo.json"),
        benchmarks: vec![
            ("arc_easy".into(), data.join("bench/arc_easy_dev.jsonl")),
            ("ifeval".into(), data.join("bench/ifeval_input_data.jsonl")),
        ],
        k: 4,
        preset: "quick".into(),
    };
    init_project(&req)?;
    let settings: Vec<(String, Value)> = vec![
        ("disperse.seed".into(), Value::from(seed as i64)),
        ("train.seed".into(), Value::from(seed as i64)),
        ("eval.arc_easy.limit".into(), Value::from(200i64)),
        ("eval.ifeval.limit".into(), Value::from(40i64)),
        ("eval.ifeval.max_new_tokens".into(), Value::from(128i64)),
    ];
    set_settings(dir, &settings)?;
    Ok(())
}
