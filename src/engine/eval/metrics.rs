//! Aggregate metrics as lm-eval computes them: mean and standard error of the mean
//! (`sqrt(p (1 - p) / (n - 1))` for 0/1 scores), argmax predictions, TruthfulQA's MC2 mass.

/// Mean of `xs` (0 for none).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Standard error of the mean with the sample standard deviation (n - 1), as lm-eval's
/// `mean_stderr`; 0 for fewer than two values.
pub fn stderr(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
    (var / n as f64).sqrt()
}

/// Index of the largest value (the first on ties, as `numpy.argmax`).
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in xs.iter().enumerate() {
        if *x > xs[best] {
            best = i;
        }
    }
    best
}

/// `(pred, pred_norm)`: argmax of the log-likelihoods and of log-likelihood per character.
pub fn mc_predictions(logliks: &[f64], chars: &[usize]) -> (usize, usize) {
    let norm: Vec<f64> = logliks.iter().zip(chars).map(|(l, &c)| l / c.max(1) as f64).collect();
    (argmax(logliks), argmax(&norm))
}

/// TruthfulQA MC2: probability mass of the first `n_true` choices, normalised over all choices.
pub fn mc2_score(logliks: &[f64], n_true: usize) -> f64 {
    let max = logliks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p: Vec<f64> = logliks.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = p.iter().sum();
    if total == 0.0 {
        return 0.0;
    }
    p[..n_true.min(p.len())].iter().sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_of_binary_scores_is_sqrt_pq_over_n_minus_1() {
        let xs = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let p = 0.4f64;
        assert!((stderr(&xs) - (p * (1.0 - p) / 9.0).sqrt()).abs() < 1e-12);
        assert_eq!(stderr(&[1.0]), 0.0);
    }

    #[test]
    fn acc_norm_divides_by_characters() {
        // Choice 1 has the higher sum, choice 0 the higher per-character score.
        assert_eq!(mc_predictions(&[-10.0, -6.0], &[20, 6]), (1, 0));
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }

    #[test]
    fn mc2_matches_the_lm_eval_formula() {
        let lls = [-1.0f64, -2.0, -0.5];
        let p: Vec<f64> = lls.iter().map(|l| l.exp()).collect();
        let want = (p[0] + p[1]) / p.iter().sum::<f64>();
        assert!((mc2_score(&lls, 2) - want).abs() < 1e-12);
    }
}
