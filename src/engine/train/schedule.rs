//! Learning-rate schedules with linear warm-up.

use serde::{Deserialize, Serialize};

/// The shape of the learning rate after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Half a cosine from the peak down to zero (the paper's choice).
    Cosine,
    /// A straight line from the peak down to zero.
    Linear,
    /// The peak rate throughout.
    Constant,
}

/// The learning rate for optimiser step `step` (0-based) of `total_steps`, as `transformers`
/// computes it: linear warm-up over `warmup_steps`, then the schedule's decay.
pub fn learning_rate(schedule: Schedule, peak_lr: f64, step: u64, warmup_steps: u64, total_steps: u64) -> f64 {
    if step < warmup_steps {
        return peak_lr * step as f64 / warmup_steps.max(1) as f64;
    }
    let decay_steps = total_steps.saturating_sub(warmup_steps).max(1) as f64;
    let progress = ((step - warmup_steps) as f64 / decay_steps).min(1.0);
    match schedule {
        Schedule::Cosine => peak_lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        Schedule::Linear => peak_lr * (1.0 - progress),
        Schedule::Constant => peak_lr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_to_zero() {
        assert_eq!(learning_rate(Schedule::Cosine, 1.0, 0, 10, 110), 0.0);
        assert!((learning_rate(Schedule::Cosine, 1.0, 5, 10, 110) - 0.5).abs() < 1e-12);
        assert!((learning_rate(Schedule::Cosine, 1.0, 10, 10, 110) - 1.0).abs() < 1e-12);
        assert!((learning_rate(Schedule::Cosine, 1.0, 60, 10, 110) - 0.5).abs() < 1e-12);
        assert!(learning_rate(Schedule::Cosine, 1.0, 110, 10, 110).abs() < 1e-12);
    }

    #[test]
    fn linear_and_constant() {
        assert!((learning_rate(Schedule::Linear, 2.0, 60, 10, 110) - 1.0).abs() < 1e-12);
        assert_eq!(learning_rate(Schedule::Constant, 2.0, 60, 10, 110), 2.0);
    }
}
