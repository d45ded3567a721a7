//! Elementwise math written without branches so that loops over slices vectorise (libm's `expf`
//! is a call per element).

/// `e^x` for f32: Cody–Waite reduction to `r` in [-ln2/2, ln2/2], a degree-6 polynomial, and
/// the power of two put into the exponent bits. Relative error below 2e-7 over the finite range;
/// below -87.3 the result flushes to 0, above 88.3 it saturates at e^88.3.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5 * 2^23 rounds to the nearest integer, which then sits in the low mantissa
    // bits: both steps vectorise, unlike `round` and a float-to-int cast.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(-87.3, 88.3);
    let shifted = clamped * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.388_888_9e-3_f32;
    p = p * r + 8.333_334e-3;
    p = p * r + 4.166_667e-2;
    p = p * r + 0.166_666_67;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let bits = n_int.wrapping_add(127) << 23;
    let y = p * f32::from_bits(bits);
    if x < -87.3 {
        0.0
    } else {
        y
    }
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// Sum of `f(x)` over `v` in eight interleaved lanes, so that it vectorises (a plain float sum
/// must keep its order and stays scalar).
#[inline(always)]
pub fn lane_sum_map(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += f(c[l]);
        }
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

/// Sum of `v`, vectorised (see [`lane_sum_map`]).
#[inline(always)]
pub fn lane_sum(v: &[f32]) -> f32 {
    lane_sum_map(v, |x| x)
}

/// Dot product of `a` and `b` in eight interleaved lanes.
#[inline(always)]
pub fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

/// Largest value of `v` (`-inf` when empty), in eight interleaved lanes.
#[inline(always)]
pub fn lane_max(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for l in 0..8 {
            acc[l] = acc[l].max(c[l]);
        }
    }
    acc.iter().copied().fold(tail, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_library_exp() {
        let mut worst = 0f64;
        for i in -87_000..88_000 {
            let x = i as f32 * 1e-3;
            let want = (x as f64).exp();
            worst = worst.max(((exp_f32(x) as f64 - want) / want).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-1e4), 0.0);
        assert!(exp_f32(100.0).is_finite());
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn lane_reductions_match_plain_ones() {
        let v: Vec<f32> = (0..203).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.01).collect();
        let w: Vec<f32> = v.iter().map(|x| x * 3.0 + 1.0).collect();
        assert!((lane_sum(&v) - v.iter().sum::<f32>()).abs() < 1e-4);
        assert!((lane_dot(&v, &w) - v.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>()).abs() < 1e-3);
        assert_eq!(lane_max(&v), 0.5);
        assert_eq!(lane_max(&[]), f32::NEG_INFINITY);
        assert!((lane_sum_map(&v, |x| x * x) - v.iter().map(|x| x * x).sum::<f32>()).abs() < 1e-4);
    }

    #[test]
    fn sigmoid_is_the_logistic_function() {
        for x in [-30.0f32, -2.5, 0.0, 0.7, 12.0] {
            assert!((sigmoid_f32(x) as f64 - 1.0 / (1.0 + (-x as f64).exp())).abs() < 1e-7);
        }
    }
}
