//! Base models: configuration, the Llama-family decoder, loading from HF folders and GGUF files,
//! tokenizers and chat templates, LoRA adapters, and generation.

pub mod adapter;
pub mod causal_softmax;
pub mod chat;
pub mod config;
pub mod describe;
pub mod error;
pub mod frozen_matmul;
pub mod fused_attention;
pub mod generate;
pub mod gguf;
pub mod kv_cache;
pub mod linear;
pub mod llama;
pub mod lora;
pub mod lora_linear;
pub mod quantized_weight;
pub mod rms_norm;
pub mod rope;
pub mod safetensors_file;
pub mod sentencepiece;
pub mod source;
pub mod swiglu;
pub mod tokenizer;
pub mod weights;

pub use config::{Architecture, ModelConfig};
pub use error::ModelError;
pub use llama::CausalLm;
pub use source::{resolve_model, ModelSource};
pub use tokenizer::TextTokenizer;

use crate::engine::device::default_dtype;
use crate::engine::job::{run_stage, CancelToken, EventSink};
use adapter::LoraAdapter;
use candle_core::{DType, Device};
use safetensors_file::LoadProgress;
use std::path::PathBuf;

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where the weights go.
    pub device: Device,
    /// Working dtype; `None` picks f32 on the CPU and bf16 on GPUs.
    pub dtype: Option<DType>,
    /// A PEFT LoRA adapter folded into the weights after loading (attached unmerged to weights
    /// kept quantized).
    pub adapter: Option<PathBuf>,
    /// Keep a GGUF file's block-quantized weights in their blocks (QLoRA-style: a quarter to an
    /// eighth of the f32 memory) instead of de-quantising them to the working dtype.
    pub keep_quantized: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { device: Device::Cpu, dtype: None, adapter: None, keep_quantized: true }
    }
}

/// What `inspect` reports about a loaded model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Where it came from.
    pub source: ModelSource,
    /// Parameters, tied embeddings counted once.
    pub parameters: u64,
    /// The dtype the checkpoint stores (or "gguf" for quantised files).
    pub stored_dtype: String,
    /// The GGUF tensor types present (e.g. "Q4_1 x 211, F32 x 61"), for GGUF sources.
    pub quantization: Option<String>,
    /// The adapter folded in, if any.
    pub adapter: Option<PathBuf>,
}

/// A base model ready to run: decoder, tokenizer and description.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The decoder.
    pub model: CausalLm,
    /// The tokenizer and chat template.
    pub tokenizer: TextTokenizer,
    /// Facts for display.
    pub info: ModelInfo,
}

/// Loads a model from a folder, a `.gguf` file or a cached HF id, optionally with an adapter.
/// The same as [`load_model_stage`] without events or cancellation (tests, benchmarks).
pub fn load_model(arg: &str, opts: &LoadOptions) -> Result<LoadedModel, ModelError> {
    load_model_reporting(arg, opts, &mut |_, _| Ok(()))
}

/// The architecture of a model (a folder, a `.gguf` file or a cached HF id) from its
/// `config.json` or GGUF metadata, without reading any weight.
pub fn read_config(arg: &str) -> Result<ModelConfig, ModelError> {
    match resolve_model(arg)? {
        ModelSource::HfFolder(dir) => ModelConfig::from_hf_file(&dir.join("config.json")),
        ModelSource::Gguf(path) => gguf::GgufFile::open(&path)?.config(),
    }
}

/// Which model to load and how: the request of the model-loading stage.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// A folder with config.json, a `.gguf` file, or a cached HF id.
    pub model: String,
    /// Device, dtype and adapter.
    pub options: LoadOptions,
}

/// The model-loading stage: reports the tensors read as progress of stage "load model" and
/// stops between tensors when `cancel` is cancelled.
pub fn load_model_stage(req: &LoadRequest, sink: &EventSink, cancel: &CancelToken) -> Result<LoadedModel, ModelError> {
    run_stage("load model", sink, cancel, |scope| {
        load_model_reporting(&req.model, &req.options, &mut |done, total| {
            scope.progress(done, total, "tensors");
            scope.check()
        })
    })
}

fn load_model_reporting(arg: &str, opts: &LoadOptions, progress: LoadProgress<'_>) -> Result<LoadedModel, ModelError> {
    let source = resolve_model(arg)?;
    let dtype = opts.dtype.unwrap_or_else(|| default_dtype(&opts.device));
    let (config, mut weights, tokenizer, stored_dtype, quantization) = match &source {
        ModelSource::HfFolder(dir) => {
            let config = ModelConfig::from_hf_file(&dir.join("config.json"))?;
            let tokenizer = TextTokenizer::from_hf_folder(dir, &config.eos_token_ids)?;
            let files = safetensors_file::weight_files(dir)?;
            let mut weights = weights::Weights::new(dir);
            safetensors_file::load_safetensors_reporting(&files, &mut weights, &Device::Cpu, progress)?;
            let stored = weights
                .get("model.embed_tokens.weight")
                .map(|t| crate::engine::device::dtype_name(t.dtype()).to_string())
                .or(config.saved_dtype.clone())
                .unwrap_or_else(|| "unknown".into());
            (config, weights, tokenizer, stored, None)
        }
        ModelSource::Gguf(path) => {
            let mut file = gguf::GgufFile::open(path)?;
            let config = file.config()?;
            let tokenizer = TextTokenizer::from_gguf(file.content(), path, &config.eos_token_ids)?;
            let quant = quantization_summary(file.content());
            let weights = file.weights(&config, opts.keep_quantized.then_some(&opts.device), progress)?;
            (config, weights, tokenizer, "gguf".to_string(), Some(quant))
        }
    };
    let adapter = opts.adapter.as_deref().map(LoraAdapter::load).transpose()?;
    let unmerged = match &adapter {
        Some(adapter) => adapter.merge_into(&mut weights)?,
        None => Vec::new(),
    };
    let mut model = CausalLm::from_weights(&config, &mut weights, dtype, &opts.device)?;
    if let Some(adapter) = &adapter {
        for module in unmerged {
            let pair = &adapter.modules[&module];
            model.attach_fixed_lora(&module, &pair.a, &pair.b, pair.scale)?;
        }
    }
    let info = ModelInfo { source, parameters: config.parameter_count(), stored_dtype, quantization, adapter: opts.adapter.clone() };
    Ok(LoadedModel { model, tokenizer, info })
}

fn quantization_summary(content: &candle_core::quantized::gguf_file::Content) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for info in content.tensor_infos.values() {
        *counts.entry(format!("{:?}", info.ggml_dtype)).or_default() += 1;
    }
    counts.iter().map(|(k, v)| format!("{k} x {v}")).collect::<Vec<_>>().join(", ")
}
