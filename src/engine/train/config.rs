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

/// Values that replace a preset's (from the command line or the `[train]` table of `dtm.toml`);
/// `None` keeps the preset's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainOverrides {
    /// LoRA rank.
    pub lora_r: Option<usize>,
    /// LoRA alpha.
    pub lora_alpha: Option<f64>,
    /// LoRA dropout.
    pub lora_dropout: Option<f32>,
    /// Target modules.
    pub targets: Option<Vec<String>>,
    /// rsLoRA scaling (alpha / sqrt(r)).
    pub rslora: Option<bool>,
    /// Peak learning rate.
    pub lr: Option<f64>,
    /// Learning-rate schedule.
    pub schedule: Option<Schedule>,
    /// Warm-up steps.
    pub warmup: Option<u64>,
    /// Epochs.
    pub epochs: Option<f64>,
    /// Stop after this many optimiser steps.
    pub max_steps: Option<u64>,
    /// Sequences per micro-batch.
    pub batch: Option<usize>,
    /// Micro-batches per optimiser step.
    pub grad_accum: Option<usize>,
    /// Maximum tokens per example.
    pub max_len: Option<usize>,
    /// Seed of data order, initialisation and dropout.
    pub seed: Option<u64>,
    /// Evaluate every N steps.
    pub eval_every: Option<u64>,
    /// Checkpoint every N steps.
    pub save_every: Option<u64>,
}

impl TrainConfig {
    /// The preset `name` with `overrides` applied and checked; the error says what is wrong.
    pub fn from_preset(name: &str, overrides: &TrainOverrides) -> Result<Self, String> {
        let c = Self::preset(name).ok_or_else(|| format!("unknown preset '{name}': use paper or quick"))?.with_overrides(overrides);
        c.validate()?;
        Ok(c)
    }

    /// These settings with `overrides` applied (unchecked: call [`Self::validate`]).
    pub fn with_overrides(self, overrides: &TrainOverrides) -> Self {
        let mut c = self;
        let o = overrides.clone();
        c.lora.rank = o.lora_r.unwrap_or(c.lora.rank);
        c.lora.alpha = o.lora_alpha.unwrap_or(c.lora.alpha);
        c.lora.dropout = o.lora_dropout.unwrap_or(c.lora.dropout);
        c.lora.targets = o.targets.unwrap_or(c.lora.targets);
        c.lora.use_rslora = o.rslora.unwrap_or(c.lora.use_rslora);
        c.learning_rate = o.lr.unwrap_or(c.learning_rate);
        c.schedule = o.schedule.unwrap_or(c.schedule);
        c.warmup_steps = o.warmup.unwrap_or(c.warmup_steps);
        c.epochs = o.epochs.unwrap_or(c.epochs);
        c.max_steps = o.max_steps.or(c.max_steps);
        c.micro_batch = o.batch.unwrap_or(c.micro_batch);
        c.grad_accum = o.grad_accum.unwrap_or(c.grad_accum);
        c.max_len = o.max_len.unwrap_or(c.max_len);
        c.seed = o.seed.unwrap_or(c.seed);
        c.eval_every = o.eval_every.unwrap_or(c.eval_every);
        c.save_every = o.save_every.unwrap_or(c.save_every);
        c
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
    #[test]
    fn overrides_replace_the_preset_values_they_name() {
        let o = TrainOverrides { lora_r: Some(4), max_steps: Some(7), schedule: Some(Schedule::Constant), ..Default::default() };
        let c = TrainConfig::from_preset("quick", &o).unwrap();
        let quick = TrainConfig::quick();
        assert_eq!((c.lora.rank, c.max_steps, c.schedule), (4, Some(7), Schedule::Constant));
        assert_eq!((c.learning_rate, c.max_len), (quick.learning_rate, quick.max_len));
        assert!(TrainConfig::from_preset("fast", &o).unwrap_err().contains("unknown preset 'fast'"));
        let bad = TrainOverrides { batch: Some(0), ..Default::default() };
        assert!(TrainConfig::from_preset("paper", &bad).is_err());
    }
}
