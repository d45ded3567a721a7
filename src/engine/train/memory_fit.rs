//! Whether a training run fits the device before anything is loaded, whether it needs gradient
//! checkpointing to fit, and what to change when it does not fit at all. `train`, the pipeline,
//! `dtm-studio plan` and the app's Base model page all decide through [`check_training_memory`].

use super::config::TrainConfig;
use super::memory_plan::{fit_in, plan_training_memory, Fit, KernelKind, MemoryPlan};
use crate::engine::memory::bytes_text as bytes;
use crate::engine::model::ModelConfig;
use candle_core::DType;
use serde::{Deserialize, Serialize};
use toml_edit::Value;

/// Whether to use gradient checkpointing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checkpointing {
    /// Only when the run would not fit without it (the default).
    #[default]
    Auto,
    /// Always (less memory, about a third more compute).
    On,
    /// Never.
    Off,
}

impl std::str::FromStr for Checkpointing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "on" | "true" => Ok(Self::On),
            "off" | "false" => Ok(Self::Off),
            other => Err(format!("'{other}' is not a checkpointing choice: use auto, on or off")),
        }
    }
}

/// One way to make a run fit: what to do, and the `dtm.toml` settings that do it.
#[derive(Debug, Clone)]
pub struct Advice {
    /// "lower the micro-batch from 4 to 2 and raise grad_accum from 4 to 8 to keep the effective
    /// batch of 16".
    pub text: String,
    /// The `dtm.toml` keys and values ("train.batch", 2), empty when there is nothing to set.
    pub changes: Vec<(&'static str, Value)>,
}

/// The verdict on a run: the plan it runs with and whether checkpointing is on.
#[derive(Debug, Clone, Copy)]
pub struct MemoryCheck {
    /// The estimate at the chosen settings.
    pub plan: MemoryPlan,
    /// Whether the run uses gradient checkpointing.
    pub checkpointing: bool,
    /// The device's free memory, when it reports it.
    pub free: Option<u64>,
}

/// A run that does not fit: the estimate, the free memory and what would fit.
#[derive(Debug, Clone)]
pub struct NotEnoughMemory {
    /// The estimate at the settings (with checkpointing when it was allowed).
    pub plan: MemoryPlan,
    /// Free memory on the device.
    pub free: u64,
    /// The device, as it is named to the user ("cpu", "cuda:0").
    pub device: String,
    /// The ways to fit, each on its own.
    pub advice: Vec<Advice>,
}

impl std::fmt::Display for NotEnoughMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.plan.parts().iter().filter(|(_, b)| *b > 0).map(|(n, b)| format!("{n} {}", bytes(*b))).collect();
        write!(
            f,
            "training needs about {} ({}) but {} has {} free. To fit, ",
            bytes(self.plan.total()),
            parts.join(", "),
            self.device,
            bytes(self.free)
        )?;
        let lines: Vec<&str> = self.advice.iter().map(|a| a.text.as_str()).collect();
        match lines.as_slice() {
            [one] => write!(f, "{one}"),
            many => write!(f, "either {}", many.join("; or ")),
        }
    }
}

/// Decides how a run goes on a device with `free` bytes (`None`: the device does not say, and
/// the run goes as chosen). `Auto` turns checkpointing on only when the run fits with it and not
/// without; a run that fits neither way is refused with the ways that would fit. A `max_len`
/// past the model's context counts as the context (examples are cut there).
pub fn check_training_memory(
    model: &ModelConfig,
    train: &TrainConfig,
    dtype: DType,
    kernels: KernelKind,
    choice: Checkpointing,
    free: Option<u64>,
    device: &str,
) -> Result<MemoryCheck, NotEnoughMemory> {
    let clamped = TrainConfig { max_len: train.max_len.min(model.max_position_embeddings.max(1)), ..train.clone() };
    let train = &clamped;
    let plan = |checkpointing| plan_training_memory(model, train, dtype, kernels, checkpointing);
    let Some(free) = free else {
        let on = choice == Checkpointing::On;
        return Ok(MemoryCheck { plan: plan(on), checkpointing: on, free: None });
    };
    let tries: &[bool] = match choice {
        Checkpointing::Auto => &[false, true],
        Checkpointing::On => &[true],
        Checkpointing::Off => &[false],
    };
    for &checkpointing in tries {
        let p = plan(checkpointing);
        if p.total() <= free {
            return Ok(MemoryCheck { plan: p, checkpointing, free: Some(free) });
        }
    }
    let checkpointing = choice != Checkpointing::Off;
    let mut advice = Vec::new();
    if !checkpointing && plan(true).total() <= free {
        advice.push(Advice {
            text: format!("turn on gradient checkpointing (train.checkpointing = \"on\"; needs about {})", bytes(plan(true).total())),
            changes: vec![("train.checkpointing", Value::from("on"))],
        });
    }
    advice.extend(quantized_base_advice(model, &plan(checkpointing)));
    advice.extend(fit_advice(train, &fit_in(model, train, dtype, kernels, checkpointing, free)));
    Err(NotEnoughMemory { plan: plan(checkpointing), free, device: device.to_string(), advice })
}

/// Bytes per parameter of a 4-bit GGUF type such as Q4_K (4.5 bits).
const FOUR_BIT_BYTES: f64 = 4.5 / 8.0;

/// A base in dense weights whose weights are a large part of the plan: keep a GGUF's blocks, or
/// use a 4-bit GGUF of the model.
fn quantized_base_advice(model: &ModelConfig, plan: &MemoryPlan) -> Option<Advice> {
    if model.quantized.is_some() || plan.weights + plan.gradient_copies < plan.total() / 4 {
        return None;
    }
    if model.saved_dtype.as_deref() == Some("gguf") {
        let text = "keep the GGUF base in its quantized blocks ([device] keep_quantized = true; train without --dequantize)";
        return Some(Advice { text: text.into(), changes: vec![("device.keep_quantized", Value::from(true))] });
    }
    let four_bit = (model.parameter_count() as f64 * FOUR_BIT_BYTES) as u64;
    let text = format!(
        "train on a 4-bit GGUF of this model, kept in its blocks (weights about {} instead of {} with their copies)",
        bytes(four_bit),
        bytes(plan.weights + plan.gradient_copies)
    );
    Some(Advice { text, changes: Vec::new() })
}

/// The ways to make the run fit by its micro-batch and maximum length, each on its own.
pub fn fit_advice(train: &TrainConfig, fit: &Fit) -> Vec<Advice> {
    if fit.nothing_fits {
        let text = "even one sequence of 64 tokens does not fit: the weights alone are too big for this device; choose a device with more memory, a smaller model, or a lower-precision dtype";
        return vec![Advice { text: text.into(), changes: Vec::new() }];
    }
    let mut out = Vec::new();
    if let Some(b) = fit.batch.filter(|b| *b < train.micro_batch) {
        let effective = train.micro_batch * train.grad_accum;
        let mut changes = vec![("train.batch", Value::from(b as i64))];
        let keep = if effective % b == 0 {
            changes.push(("train.grad_accum", Value::from((effective / b) as i64)));
            format!(" and raise grad_accum from {} to {} to keep the effective batch of {effective}", train.grad_accum, effective / b)
        } else {
            String::new()
        };
        out.push(Advice { text: format!("lower the micro-batch from {} to {b}{keep}", train.micro_batch), changes });
    }
    if let Some(l) = fit.max_len.filter(|l| *l < train.max_len) {
        let text = format!("lower max_len from {} to {l} (longer examples are truncated)", train.max_len);
        out.push(Advice { text, changes: vec![("train.max_len", Value::from(l as i64))] });
    }
    if out.is_empty() {
        let text = format!(
            "even micro-batch 1 at max_len {} or max_len 64 at micro-batch {} does not fit: lower both",
            train.max_len, train.micro_batch
        );
        out.push(Advice { text, changes: Vec::new() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn smollm2() -> ModelConfig {
        let json = r#"{"architectures":["LlamaForCausalLM"],"vocab_size":49152,"hidden_size":576,"intermediate_size":1536,
            "num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,"rms_norm_eps":1e-5,"rope_theta":100000,
            "max_position_embeddings":8192,"tie_word_embeddings":true,"bos_token_id":1,"eos_token_id":2}"#;
        ModelConfig::from_hf_json(json, Path::new("config.json")).unwrap()
    }

    fn changes(a: &Advice) -> Vec<(&'static str, String)> {
        a.changes.iter().map(|(k, v)| (*k, v.to_string().trim().to_string())).collect()
    }

    #[test]
    fn advice_names_the_values_that_fit() {
        let t = TrainConfig::paper();
        let lines = fit_advice(&t, &Fit { batch: Some(1), max_len: Some(512), nothing_fits: false });
        assert_eq!(lines[0].text, "lower the micro-batch from 4 to 1 and raise grad_accum from 4 to 16 to keep the effective batch of 16");
        assert_eq!(changes(&lines[0]), vec![("train.batch", "1".into()), ("train.grad_accum", "16".into())]);
        assert_eq!(lines[1].text, "lower max_len from 1024 to 512 (longer examples are truncated)");
        assert_eq!(changes(&lines[1]), vec![("train.max_len", "512".into())]);
        // A micro-batch that does not divide the effective batch leaves grad_accum alone.
        let three = fit_advice(&t, &Fit { batch: Some(3), max_len: Some(1024), nothing_fits: false });
        assert_eq!((three.len(), three[0].text.as_str()), (1, "lower the micro-batch from 4 to 3"));
        let none = fit_advice(&t, &Fit { batch: None, max_len: None, nothing_fits: true });
        assert!(none[0].text.contains("too big for this device") && none[0].changes.is_empty());
    }

    #[test]
    fn auto_turns_checkpointing_on_only_when_it_is_needed() {
        let (c, t) = (smollm2(), TrainConfig::paper());
        let plan = |on| plan_training_memory(&c, &t, DType::F32, KernelKind::FusedCpu, on).total();
        let (without, with) = (plan(false), plan(true));
        assert!(with * 2 < without, "checkpointing should cut the estimate: {with} vs {without}");
        let check = |choice, free| check_training_memory(&c, &t, DType::F32, KernelKind::FusedCpu, choice, Some(free), "cpu");
        // Plenty of memory: no checkpointing unless asked.
        assert!(!check(Checkpointing::Auto, without).unwrap().checkpointing);
        assert!(check(Checkpointing::On, without).unwrap().checkpointing);
        // Between the two: auto turns it on; off is refused, and the first advice is to turn it on.
        assert!(check(Checkpointing::Auto, with).unwrap().checkpointing);
        let refused = check(Checkpointing::Off, with).unwrap_err();
        assert_eq!(changes(&refused.advice[0]), vec![("train.checkpointing", "\"on\"".into())]);
        let text = refused.to_string();
        assert!(text.contains("but cpu has") && text.contains("To fit, either"), "{text}");
        // Too little for either: refused with batch and length advice at checkpointing's figures.
        let small = check(Checkpointing::Auto, with - 1).unwrap_err();
        assert_eq!(small.plan.total(), with);
        assert!(small.advice.iter().all(|a| !a.text.contains("checkpointing")), "{small}");
        // A device that does not report free memory: the run goes as chosen.
        let unknown = check_training_memory(&c, &t, DType::F32, KernelKind::FusedCpu, Checkpointing::Auto, None, "metal").unwrap();
        assert!(!unknown.checkpointing && unknown.free.is_none());
    }

    #[test]
    fn where_the_weights_weigh_a_quantized_base_is_suggested() {
        let t = TrainConfig { micro_batch: 1, max_len: 64, ..TrainConfig::paper() };
        let check =
            |c: &ModelConfig| check_training_memory(c, &t, DType::F32, KernelKind::FusedCpu, Checkpointing::Auto, Some(600 << 20), "cpu");
        let dense = check(&smollm2()).unwrap_err();
        assert!(dense.advice.iter().any(|a| a.text.contains("4-bit GGUF") && a.text.contains("918 MiB")), "{dense}");
        let gguf = ModelConfig { saved_dtype: Some("gguf".into()), ..smollm2() };
        let dequantized = check(&gguf).unwrap_err();
        let keep = dequantized.advice.iter().find(|a| a.text.contains("keep the GGUF base")).expect("the advice to keep the blocks");
        assert_eq!(changes(keep), vec![("device.keep_quantized", "true".into())]);
        let share = crate::engine::model::config::QuantizedShare { parameters: 134_479_872, bytes: 96_436_224 };
        let kept = ModelConfig { quantized: Some(share), ..gguf };
        assert!(check(&kept).is_ok(), "kept in its blocks, the run fits in 600 MiB");
    }
}
