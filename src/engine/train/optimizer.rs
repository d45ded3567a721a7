//! AdamW (decoupled weight decay, as `torch.optim.AdamW`) whose moments can be saved and
//! restored.

use candle_core::{DType, Result, Tensor, Var};
use std::collections::HashMap;

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

/// AdamW over named variables.
pub struct AdamW {
    config: AdamWConfig,
    params: Vec<(String, Var)>,
    first_moment: Vec<Var>,
    second_moment: Vec<Var>,
    steps_taken: u64,
}

impl AdamW {
    /// An optimiser with zero moments.
    pub fn new(params: Vec<(String, Var)>, config: AdamWConfig) -> Result<Self> {
        let zeros = |v: &Var| Var::zeros(v.shape(), DType::F32, v.device());
        let first_moment = params.iter().map(|(_, v)| zeros(v)).collect::<Result<Vec<_>>>()?;
        let second_moment = params.iter().map(|(_, v)| zeros(v)).collect::<Result<Vec<_>>>()?;
        Ok(Self { config, params, first_moment, second_moment, steps_taken: 0 })
    }

    /// Optimiser steps taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.steps_taken
    }

    /// The parameters, in the order gradients are given to [`Self::step`].
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// One AdamW update at learning rate `lr`, with gradients multiplied by `grad_scale` first
    /// (for clipping and accumulation).
    pub fn step(&mut self, grads: &[Tensor], lr: f64, grad_scale: f64) -> Result<()> {
        self.steps_taken += 1;
        let c = self.config;
        let t = self.steps_taken as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2 = 1.0 - c.beta2.powi(t);
        for (((_, var), (m, v)), g) in self.params.iter().zip(self.first_moment.iter().zip(&self.second_moment)).zip(grads) {
            let g = (g.to_dtype(DType::F32)? * grad_scale)?;
            let m_new = ((m.as_tensor() * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            let v_new = ((v.as_tensor() * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let update = ((&m_new / bias1)? / ((&v_new / bias2)?.sqrt()? + c.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - lr * c.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
            m.set(&m_new)?;
            v.set(&v_new)?;
        }
        Ok(())
    }

    /// The moments as named tensors (`NAME.exp_avg`, `NAME.exp_avg_sq`), for checkpoints.
    pub fn state_tensors(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for ((name, _), (m, v)) in self.params.iter().zip(self.first_moment.iter().zip(&self.second_moment)) {
            out.insert(format!("{name}.exp_avg"), m.as_tensor().clone());
            out.insert(format!("{name}.exp_avg_sq"), v.as_tensor().clone());
        }
        out
    }

    /// Restores moments and the step count saved by [`Self::state_tensors`].
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, steps_taken: u64) -> std::result::Result<(), String> {
        for ((name, _), (m, v)) in self.params.iter().zip(self.first_moment.iter().zip(&self.second_moment)) {
            for (suffix, var) in [("exp_avg", m), ("exp_avg_sq", v)] {
                let key = format!("{name}.{suffix}");
                let t = tensors.get(&key).ok_or_else(|| format!("optimizer state has no '{key}'"))?;
                if t.dims() != var.dims() {
                    return Err(format!("optimizer state '{key}' has shape {:?}, expected {:?}", t.dims(), var.dims()));
                }
                var.set(&t.to_device(var.device()).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            }
        }
        self.steps_taken = steps_taken;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn first_step_matches_the_adamw_formula() -> Result<()> {
        // With zero moments the first update is lr * sign(g) (up to eps) plus decay.
        let w = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu)?)?;
        let cfg = AdamWConfig { beta1: 0.9, beta2: 0.98, eps: 1e-6, weight_decay: 0.1 };
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], cfg)?;
        let loss = (w.as_tensor() * 3.0)?.sum_all()?; // grad = 3
        let g = loss.backward()?.get(w.as_tensor()).cloned().unwrap();
        opt.step(&[g], 0.01, 1.0)?;
        let got = w.as_tensor().to_vec1::<f32>()?;
        let expect = [1.0 * (1.0 - 0.001) - 0.01, -2.0 * (1.0 - 0.001) - 0.01];
        for (g, e) in got.iter().zip(expect) {
            assert!((*g as f64 - e).abs() < 1e-6, "{got:?}");
        }
        Ok(())
    }

    #[test]
    fn state_round_trips() -> Result<()> {
        let w = Var::from_tensor(&Tensor::new(&[1.0f32, 2.0], &Device::Cpu)?)?;
        let cfg = AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
        let mut a = AdamW::new(vec![("w".into(), w.clone())], cfg)?;
        let g = w.as_tensor().sqr()?.sum_all()?.backward()?.get(w.as_tensor()).cloned().unwrap();
        a.step(&[g], 0.1, 1.0)?;
        let w2 = Var::from_tensor(w.as_tensor())?;
        let mut b = AdamW::new(vec![("w".into(), w2)], cfg)?;
        b.load_state(&a.state_tensors(), a.steps_taken()).unwrap();
        assert_eq!(b.steps_taken(), 1);
        assert_eq!(b.state_tensors()["w.exp_avg"].to_vec1::<f32>()?, a.state_tensors()["w.exp_avg"].to_vec1::<f32>()?);
        Ok(())
    }
}
