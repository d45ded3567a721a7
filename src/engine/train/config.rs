//! Training settings and the two presets: `paper` (Fu et al. 2024) and `quick` (for CPUs).

use super::optimizer::AdamWConfig;
use super::schedule::Schedule;
use crate::engine::model::lora::LoraSpec;
use serde::{Deserialize, Serialize};

/// Everything that decides a training curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The adapters.
    pub lora: LoraSpec,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// AdamW settings.
    pub adamw: AdamWConfig,
    /// Decay after warm-up.
    pub schedule: Schedule,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Passes over the training data.
    pub epochs: f64,
    /// Stop after this many optimiser steps, if set (overrides `epochs`).
    pub max_steps: Option<u64>,
    /// Sequences per forward pass.
    pub micro_batch: usize,
    /// Micro-batches per optimiser step (effective batch = micro_batch x this).
    pub grad_accum: usize,
    /// Global grad-norm clip (0 disables).
    pub max_grad_norm: f64,
    /// Tokens per sequence after truncation.
    pub max_len: usize,
    /// Seed of data order, adapter init and dropout.
    pub seed: u64,
    /// Evaluate validation and train-slice loss every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Examples in the validation slice (taken from the split) and in the fixed train slice.
    pub eval_examples: usize,
    /// Write a checkpoint every this many steps (0: only at the end or when stopped).
    pub save_every: u64,
}

impl TrainConfig {
    /// The paper's setting: LoRA r16/alpha16/dropout 0.05 on gate/up/down, AdamW lr 3e-4,
    /// betas (0.9, 0.98), eps 1e-6, no weight decay, cosine with 100 warm-up steps, clip 0.3,
    /// effective batch 16, one epoch, max length 1024.
    pub fn paper() -> Self {
        Self {
            lora: LoraSpec::paper(),
            learning_rate: 3e-4,
            adamw: AdamWConfig { beta1: 0.9, beta2: 0.98, eps: 1e-6, weight_decay: 0.0 },
            schedule: Schedule::Cosine,
            warmup_steps: 100,
            epochs: 1.0,
            max_steps: None,
            micro_batch: 4,
            grad_accum: 4,
            max_grad_norm: 0.3,
            max_len: 1024,
            seed: 42,
            eval_every: 50,
            eval_examples: 64,
            save_every: 50,
        }
    }

    /// A short run that shows learning on a laptop CPU: r8, length 256, batch 4, lr 5e-4,
    /// 10 warm-up steps, evaluation every 10 steps.
    pub fn quick() -> Self {
        Self {
            lora: LoraSpec { rank: 8, alpha: 16.0, ..LoraSpec::paper() },
            learning_rate: 5e-4,
            warmup_steps: 10,
            micro_batch: 4,
            grad_accum: 1,
            max_len: 256,
            eval_every: 10,
            eval_examples: 32,
            save_every: 10,
            ..Self::paper()
        }
    }

    /// A preset by name.
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "paper" => Some(Self::paper()),
            "quick" => Some(Self::quick()),
            _ => None,
        }
    }

    /// Optimiser steps for `n_train` examples.
    pub fn total_steps(&self, n_train: usize) -> u64 {
        if let Some(s) = self.max_steps {
            return s;
        }
        let micro_per_epoch = n_train.div_ceil(self.micro_batch.max(1)) as f64;
        ((micro_per_epoch * self.epochs) / self.grad_accum.max(1) as f64).ceil().max(1.0) as u64
    }

    /// Checks the values a run cannot start with.
    pub fn validate(&self) -> Result<(), String> {
        if self.micro_batch == 0 || self.grad_accum == 0 {
            return Err("micro_batch and grad_accum must be at least 1".into());
        }
        if self.lora.rank == 0 {
            return Err("LoRA rank must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.lora.dropout) {
            return Err(format!("LoRA dropout must be in [0, 1), got {}", self.lora.dropout));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!("learning rate must be positive, got {}", self.learning_rate));
        }
        if self.max_len < 2 {
            return Err("max_len must be at least 2".into());
        }
        if self.epochs <= 0.0 && self.max_steps.is_none() {
            return Err("epochs must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_preset_has_the_papers_numbers() {
        let p = TrainConfig::paper();
        assert_eq!((p.lora.rank, p.lora.alpha, p.lora.dropout), (16, 16.0, 0.05));
        assert_eq!(p.micro_batch * p.grad_accum, 16);
        assert_eq!((p.adamw.beta2, p.adamw.eps, p.max_grad_norm), (0.98, 1e-6, 0.3));
        assert_eq!(p.total_steps(999), 63);
    }
}
