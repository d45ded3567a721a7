//! `dtm-studio plan`: the memory a training run needs, before anything is loaded — part by part,
//! with and without gradient checkpointing, against the chosen device's free memory — and what
//! to change when it does not fit. The same decision `train` and `run` make before loading.

use crate::engine::device::{default_dtype, dtype_name, find_device, list_devices, DeviceRequest, WorkDType};
use crate::engine::memory::bytes_text as bytes;
use crate::engine::model::read_config;
use crate::engine::pipeline::Project;
use crate::engine::train::config::TrainOverrides;
use crate::engine::train::memory_fit::{check_training_memory, Checkpointing};
use crate::engine::train::memory_plan::{lora_parameters, plan_training_memory, KernelKind};
use crate::engine::train::TrainConfig;
use candle_core::{DType, Device};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A project folder (or its dtm.toml): its model, [train] settings, dtype and device. The
    /// flags below override them.
    pub project: Option<PathBuf>,
    /// The base model (folder, .gguf or cached HF id); needed without a project.
    #[arg(long)]
    pub model: Option<String>,
    /// Training preset (paper or quick) when there is no project.
    #[arg(long, default_value = "paper")]
    pub preset: String,
    /// Sequences per micro-batch.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Micro-batches per optimiser step.
    #[arg(long)]
    pub grad_accum: Option<usize>,
    /// Maximum tokens per example.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// LoRA rank.
    #[arg(long)]
    pub lora_r: Option<usize>,
    /// Target modules, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// Gradient checkpointing: auto, on or off.
    #[arg(long, value_parser = super::train::parse_checkpointing)]
    pub checkpointing: Option<Checkpointing>,
    /// auto (CUDA, then Metal, then CPU), cpu, cuda[:N] or metal[:N] (default: the project's, else auto).
    #[arg(long)]
    pub device: Option<DeviceRequest>,
    /// Working dtype: f32, bf16 or f16 (default: the project's, else f32 on the CPU and bf16 on GPUs).
    #[arg(long)]
    pub dtype: Option<WorkDType>,
    /// Plan a GGUF base de-quantised to the working dtype instead of kept in its blocks.
    #[arg(long)]
    pub dequantize: bool,
}

/// Prints the plan; fails (exit status 1) when the run does not fit.
pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let project = args.project.as_deref().map(Project::load).transpose()?;
    let model = match (&args.model, &project) {
        (Some(m), _) => m.clone(),
        (None, Some(p)) => p.model.clone(),
        (None, None) => anyhow::bail!("name a project folder or a model: `dtm-studio plan DIR` or `dtm-studio plan --model MODEL`"),
    };
    let overrides = TrainOverrides {
        batch: args.batch,
        grad_accum: args.grad_accum,
        max_len: args.max_len,
        lora_r: args.lora_r,
        targets: args.targets.clone(),
        ..Default::default()
    };
    let train = match &project {
        Some(p) => p.train.clone().with_overrides(&overrides),
        None => TrainConfig::from_preset(&args.preset, &overrides).map_err(anyhow::Error::msg)?,
    };
    train.validate().map_err(anyhow::Error::msg)?;
    let choice = args.checkpointing.or(project.as_ref().map(|p| p.checkpointing)).unwrap_or_default();
    let request = args.device.or(project.as_ref().and_then(|p| p.devices.first().copied())).unwrap_or(DeviceRequest::Auto);
    let devices = list_devices();
    let device = find_device(&devices, request);
    let cpu = device.map(|d| d.request == DeviceRequest::Cpu).unwrap_or(request == DeviceRequest::Cpu);
    let dtype = args.dtype.map(|d| d.0).or(project.as_ref().and_then(|p| p.dtype)).unwrap_or(if cpu {
        default_dtype(&Device::Cpu)
    } else {
        DType::BF16
    });
    let kernels = KernelKind::for_run(cpu, dtype);
    let config = read_config(&model)?;
    let keep_quantized = !args.dequantize && project.as_ref().is_none_or(|p| p.keep_quantized);
    let config = if keep_quantized { config } else { config.dequantized() };
    // Examples are cut at the model's context, so a longer max_len is planned as the context.
    let train = TrainConfig { max_len: train.max_len.min(config.max_position_embeddings.max(1)), ..train };
    let name = device.map(|d| d.name.clone()).unwrap_or_else(|| request.to_string());

    println!(
        "{model}: {:.1}M parameters, {} weights{}, {}",
        config.parameter_count() as f64 / 1e6,
        dtype_name(dtype),
        config.quantized.map(|q| format!(" ({:.1}M kept in quantized blocks)", q.parameters as f64 / 1e6)).unwrap_or_default(),
        match kernels {
            KernelKind::FusedCpu => "fused CPU kernels",
            KernelKind::Composed => "composed kernels (a GPU estimate is a rough guide)",
        }
    );
    println!(
        "micro-batch {} x max_len {}, grad_accum {}, LoRA r{} on {} ({:.2}M trainable parameters)",
        train.micro_batch,
        train.max_len,
        train.grad_accum,
        train.lora.rank,
        train.lora.targets.join(", "),
        lora_parameters(&config, &train.lora) as f64 / 1e6
    );
    let without = plan_training_memory(&config, &train, dtype, kernels, false);
    let with = plan_training_memory(&config, &train, dtype, kernels, true);
    println!("\n{:<20} {:>12} {:>16}", "", "plain", "checkpointing");
    for ((part, a), (_, b)) in without.parts().iter().zip(with.parts().iter()) {
        println!("{part:<20} {:>12} {:>16}", bytes(*a), bytes(*b));
    }
    println!("{:<20} {:>12} {:>16}\n", "total", bytes(without.total()), bytes(with.total()));

    let free = device.and_then(|d| d.free_bytes);
    match check_training_memory(&config, &train, dtype, kernels, choice, free, &name) {
        Ok(check) => {
            let how = if check.checkpointing { "with gradient checkpointing" } else { "without gradient checkpointing" };
            match check.free {
                Some(f) => println!(
                    "{name}: {} free; fits {how}, {} to spare (checkpointing: {choice:?})",
                    bytes(f),
                    bytes(f - check.plan.total())
                ),
                None => println!("{name} does not report its free memory; the run goes {how} (checkpointing: {choice:?})"),
            }
            Ok(())
        }
        Err(refused) => {
            println!("{name}: {} free; does not fit. To fit, either:", bytes(refused.free));
            for a in &refused.advice {
                let keys: Vec<String> = a.changes.iter().map(|(k, v)| format!("{k} = {}", v.to_string().trim())).collect();
                let keys = if keys.is_empty() { String::new() } else { format!("  [{}]", keys.join(", ")) };
                println!("  - {}{keys}", a.text);
            }
            anyhow::bail!("the run does not fit: {} needed, {} free on {name}", bytes(refused.plan.total()), bytes(refused.free))
        }
    }
}
