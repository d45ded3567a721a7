//! One supervised fine-tuning run from files: load the base model and the instruction data,
//! select rows, render and tokenise prompts, split off validation, train. The CLI and the GUI
//! both start runs through [`run_sft`].

use super::config::TrainConfig;
use super::error::TrainError;
use super::memory_fit::{check_training_memory, Checkpointing, MemoryCheck};
use super::memory_plan::KernelKind;
use super::state::TrainerState;
use super::trainer::{train, TrainJob};
use crate::engine::data::prompt::PromptOptions;
use crate::engine::data::split::{select_rows, split_train_val};
use crate::engine::data::tokenize::{tokenize_dataset_until, TokenizedExample};
use crate::engine::data::{load_dataset, LoadDataOptions};
use crate::engine::device::{default_dtype, describe_device, free_memory};
use crate::engine::job::StageScope;
use crate::engine::job::{run_stage, CancelToken, EventSink};
use crate::engine::memory::bytes_text as bytes;
use crate::engine::model::{load_model_stage, read_config, LoadOptions, LoadRequest};
use std::path::PathBuf;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct SftRequest {
    /// Run name ("vanilla", "sub-0", ...).
    pub run: String,
    /// Base model (folder, .gguf or cached id).
    pub model: String,
    /// How to load it.
    pub load: LoadOptions,
    /// Instruction data file.
    pub data: PathBuf,
    /// How to read it.
    pub data_options: LoadDataOptions,
    /// Rows to train on (`clusters.json:N`, `0-99,200-299` or a file of indices; see
    /// [`select_rows`]); `None` = all.
    pub rows: Option<String>,
    /// Prompt template and first-turn-only; `max_len` comes from the training settings.
    pub prompt: PromptOptions,
    /// Fraction of the selected rows held out for validation.
    pub val_fraction: f64,
    /// At most this many validation rows.
    pub val_max: usize,
    /// Run folder.
    pub out_dir: PathBuf,
    /// Training settings.
    pub config: TrainConfig,
    /// Gradient checkpointing: on, off, or as the memory plan needs.
    pub checkpointing: Checkpointing,
    /// Refuse the run, before loading, when the memory plan says it does not fit (else warn and
    /// go ahead, for a device whose estimate is too cautious).
    pub memory_check: bool,
}

/// The training stage: loads the data and the base model, reports the data and tokenisation
/// summaries as log events, and trains (see [`train`]). Its stage name is `train RUN`; the model
/// loads as its own stage inside it. A cancelled run returns [`TrainError::Cancelled`] after
/// writing its checkpoint.
pub fn run_sft(req: &SftRequest, events: &EventSink, cancel: &CancelToken) -> Result<TrainerState, TrainError> {
    let stage = format!("train {}", req.run);
    run_stage(&stage, events, cancel, |scope| {
        let dataset = load_dataset(&req.data, &req.data_options)?;
        scope.log(format!("{}: {}", req.data.display(), dataset.report.summary()));
        scope.check()?;
        let memory = plan_memory(req, &scope)?;
        let load = LoadRequest { model: req.model.clone(), options: req.load.clone() };
        let mut loaded = load_model_stage(&load, events, cancel)?;
        let context = loaded.model.config().max_position_embeddings;
        if req.config.max_len > context {
            scope.warn(format!(
                "max_len {} is past the model's context of {context} positions: examples are cut at {context}",
                req.config.max_len
            ));
        }
        let prompt = PromptOptions { max_len: req.config.max_len.min(context), ..req.prompt.clone() };
        let (tokenized, report) = tokenize_dataset_until(&dataset, &loaded.tokenizer, &prompt, cancel)?;
        scope.log(format!("tokenised: {}", report.summary()));
        let selected = select_rows(&dataset, tokenized, &report.source_index, req.rows.as_deref())?;
        if selected.is_empty() {
            return Err(TrainError::Data("no examples left to train on after row selection and tokenisation".into()));
        }
        let (train_idx, val_idx) = split_train_val(selected.len(), req.val_fraction, req.val_max, req.config.seed);
        let pick = |idx: &[usize]| -> Vec<TokenizedExample> { idx.iter().map(|&i| selected[i].clone()).collect() };
        let (train_set, val_set) = (pick(&train_idx), pick(&val_idx));
        scope.log(format!("{}: {} training and {} validation examples", req.run, train_set.len(), val_set.len()));
        if val_set.is_empty() {
            scope.warn(format!(
                "{}: no validation rows (val_fraction {} of {} rows): the validation loss and the loss-reduction ratio are not recorded",
                req.run,
                req.val_fraction,
                selected.len()
            ));
        }
        let pad_id = loaded.tokenizer.stop_ids().first().copied().unwrap_or(0);
        let job = TrainJob {
            run: req.run.clone(),
            train: &train_set,
            val: &val_set,
            out_dir: &req.out_dir,
            base_model: req.model.clone(),
            pad_id,
            checkpointing: memory.checkpointing,
        };
        train(&mut loaded.model, &job, &req.config, scope.name, events, cancel)
    })
}

/// The memory check before the model loads: refuses a run that cannot fit, and says what it
/// needs and whether it runs with gradient checkpointing.
fn plan_memory(req: &SftRequest, scope: &StageScope<'_>) -> Result<MemoryCheck, TrainError> {
    let config = read_config(&req.model)?;
    let config = if req.load.keep_quantized { config } else { config.dequantized() };
    let device = &req.load.device;
    let dtype = req.load.dtype.unwrap_or_else(|| default_dtype(device));
    let kernels = KernelKind::for_run(device.is_cpu(), dtype);
    let name = describe_device(device);
    let check = match check_training_memory(&config, &req.config, dtype, kernels, req.checkpointing, free_memory(device), &name) {
        Ok(check) => check,
        Err(refused) if !req.memory_check => {
            scope.warn(format!("{}: {refused}. Going ahead anyway: the memory check is off", req.run));
            let checkpointing = req.checkpointing != Checkpointing::Off;
            MemoryCheck { plan: refused.plan, checkpointing, free: Some(refused.free) }
        }
        Err(refused) => return Err(TrainError::Memory(Box::new(refused))),
    };
    let free = check
        .free
        .map(|f| format!(", {} free on {name}", bytes(f)))
        .unwrap_or_else(|| format!(" ({name} does not report its free memory)"));
    let how = if check.checkpointing { ", with gradient checkpointing" } else { "" };
    scope.log(format!("{}: memory plan: about {} needed{free}{how}", req.run, bytes(check.plan.total())));
    Ok(check)
}
