//! Checkpoints: the adapter, the optimiser moments and the step, swapped in atomically so that a
//! stopped run always leaves one complete checkpoint to resume from.

use super::config::TrainConfig;
use super::error::TrainError;
use super::optimizer::AdamW;
use crate::engine::model::adapter::LoraAdapter;
use crate::engine::model::lora::LoraSet;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The folder name inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    step: u64,
    config: TrainConfig,
}

/// A checkpoint read back.
#[derive(Debug)]
pub struct Checkpoint {
    /// Optimiser steps done when it was taken.
    pub step: u64,
    /// The settings of the run that wrote it.
    pub config: TrainConfig,
    /// The adapter at that step.
    pub adapter: LoraAdapter,
    /// AdamW moments.
    pub optimizer: HashMap<String, Tensor>,
}

fn err(path: &Path, detail: impl ToString) -> TrainError {
    TrainError::Checkpoint { path: path.to_path_buf(), detail: detail.to_string() }
}

/// Writes `out_dir/checkpoint` (via a temporary folder and a rename).
pub fn save_checkpoint(
    out_dir: &Path,
    lora: &LoraSet,
    optimizer: &AdamW,
    step: u64,
    config: &TrainConfig,
    base_model: &str,
) -> Result<(), TrainError> {
    let final_dir = out_dir.join(CHECKPOINT_DIR);
    let tmp = out_dir.join(format!(".{CHECKPOINT_DIR}.tmp"));
    let old = out_dir.join(format!(".{CHECKPOINT_DIR}.old"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
    lora.save_peft(&tmp, base_model)?;
    let moments: HashMap<String, Tensor> = optimizer
        .state_tensors()
        .into_iter()
        .map(|(k, v)| Ok((k, v.to_device(&Device::Cpu)?)))
        .collect::<Result<_, candle_core::Error>>()?;
    candle_core::safetensors::save(&moments, tmp.join("optimizer.safetensors"))?;
    let meta = serde_json::to_vec_pretty(&CheckpointMeta { step, config: config.clone() }).map_err(|e| err(&tmp, e))?;
    crate::engine::fsutil::write_atomic(&tmp.join("state.json"), &meta).map_err(|e| err(&tmp, e))?;
    let _ = std::fs::remove_dir_all(&old);
    if final_dir.exists() {
        std::fs::rename(&final_dir, &old).map_err(|e| err(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| err(&final_dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Reads `out_dir/checkpoint` if there is one.
pub fn load_checkpoint(out_dir: &Path) -> Result<Option<Checkpoint>, TrainError> {
    let dir: PathBuf = out_dir.join(CHECKPOINT_DIR);
    let previous = out_dir.join(format!(".{CHECKPOINT_DIR}.old"));
    if !dir.is_dir() && previous.is_dir() {
        // Stopped between the two renames of `save_checkpoint`: the previous checkpoint is whole.
        std::fs::rename(&previous, &dir).map_err(|e| err(&previous, e))?;
    }
    if !dir.is_dir() {
        return Ok(None);
    }
    let meta_path = dir.join("state.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| err(&meta_path, e))?;
    let meta: CheckpointMeta =
        serde_json::from_str(&text).map_err(|e| err(&meta_path, format!("unreadable ({e}); delete the folder to start over")))?;
    let adapter = LoraAdapter::load(&dir)?;
    let opt_path = dir.join("optimizer.safetensors");
    let mut raw = crate::engine::model::weights::Weights::new(&opt_path);
    crate::engine::model::safetensors_file::load_safetensors(std::slice::from_ref(&opt_path), &mut raw, &Device::Cpu)?;
    let optimizer = raw.names().into_iter().filter_map(|n| raw.get(&n).cloned().map(|t| (n, t))).collect();
    Ok(Some(Checkpoint { step: meta.step, config: meta.config, adapter, optimizer }))
}
