//! Dynamic loss scaling for a base in f16, as PyTorch's `GradScaler` does it: the loss is
//! multiplied by a large scale before the backward pass, so that small activation gradients do
//! not underflow f16's range, and the adapter gradients (f32) are divided by it afterwards. A
//! step whose gradients overflow is computed again at half the scale; after a run of good steps
//! the scale doubles. bf16 and f32 have f32's range and need no scaling.

use candle_core::DType;

/// The first scale (2^16, PyTorch's default).
const INITIAL_SCALE: f64 = 65_536.0;
/// Good steps before the scale doubles (PyTorch's default).
const GROWTH_INTERVAL: u32 = 2_000;
/// Below this the overflow is not the scale's doing: the run has diverged.
const MIN_SCALE: f64 = 1.0 / 1024.0;

/// The current scale and how long it has held.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScaler {
    scale: f64,
    good_steps: u32,
    enabled: bool,
}

/// What to do after a step's gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScaleVerdict {
    /// The gradients are finite: take the optimiser step.
    Step,
    /// They overflowed: compute the step again at the new (halved) scale.
    Retry {
        /// The scale to retry at.
        scale: f64,
    },
    /// They overflow even at the smallest scale: the run has diverged.
    Diverged,
}

impl LossScaler {
    /// Scaling for a base in `dtype`: on for f16, off (scale 1) otherwise.
    pub fn for_dtype(dtype: DType) -> Self {
        let enabled = dtype == DType::F16;
        Self { scale: if enabled { INITIAL_SCALE } else { 1.0 }, good_steps: 0, enabled }
    }

    /// The factor the loss is multiplied by before the backward pass.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Whether scaling is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Judges a step by whether its unscaled gradients are all finite, and updates the scale.
    /// Without scaling every step is taken (a non-finite gradient is the optimiser's to clip).
    pub fn judge(&mut self, gradients_finite: bool) -> ScaleVerdict {
        if !self.enabled {
            return ScaleVerdict::Step;
        }
        if gradients_finite {
            self.good_steps += 1;
            if self.good_steps >= GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
            return ScaleVerdict::Step;
        }
        self.good_steps = 0;
        self.scale /= 2.0;
        if self.scale < MIN_SCALE {
            ScaleVerdict::Diverged
        } else {
            ScaleVerdict::Retry { scale: self.scale }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_halves_the_scale_and_good_steps_double_it() {
        let mut s = LossScaler::for_dtype(DType::F16);
        assert_eq!(s.scale(), 65_536.0);
        assert_eq!(s.judge(false), ScaleVerdict::Retry { scale: 32_768.0 });
        for _ in 0..GROWTH_INTERVAL - 1 {
            assert_eq!(s.judge(true), ScaleVerdict::Step);
        }
        assert_eq!(s.scale(), 32_768.0);
        s.judge(true);
        assert_eq!(s.scale(), 65_536.0, "doubled after {GROWTH_INTERVAL} good steps");
        let verdicts: Vec<ScaleVerdict> = (0..40).map(|_| s.judge(false)).collect();
        assert_eq!(verdicts.last(), Some(&ScaleVerdict::Diverged));
    }

    #[test]
    fn other_dtypes_are_not_scaled() {
        for dtype in [DType::F32, DType::BF16] {
            let mut s = LossScaler::for_dtype(dtype);
            assert_eq!((s.scale(), s.judge(false)), (1.0, ScaleVerdict::Step));
        }
    }
}
