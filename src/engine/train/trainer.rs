//! The SFT loop: seeded micro-batches, response-only loss, gradient accumulation, clipping,
//! AdamW with warm-up and decay, evaluation at intervals, checkpoints, cancellation and resume.

use super::batch::{collate, micro_batch_indices, Batch, LabelledTokens};
use super::checkpoint::{load_checkpoint, save_checkpoint};
use super::config::TrainConfig;
use super::error::TrainError;
use super::gradients::loss_and_scaled_gradients;
use super::loss::masked_lm_loss;
use super::loss_scale::{LossScaler, ScaleVerdict};
use super::optimizer::AdamW;
use super::schedule::learning_rate;
use super::state::{EvalEntry, LogEntry, RunStatus, TrainerState};
use crate::engine::job::{CancelToken, Cancelled, Event, EventSink};
use crate::engine::model::linear::{ForwardCtx, Kernels};
use crate::engine::model::lora::LoraSet;
use crate::engine::model::CausalLm;
use candle_core::Tensor;
use std::path::Path;
use std::time::Instant;

/// What to train on and where to write.
pub struct TrainJob<'a, T: LabelledTokens> {
    /// Run name for events and the state file ("vanilla", "sub-0", ...).
    pub run: String,
    /// Training sequences.
    pub train: &'a [T],
    /// Validation sequences.
    pub val: &'a [T],
    /// Run folder: adapter, trainer_state.json, checkpoint/.
    pub out_dir: &'a Path,
    /// Recorded as `base_model_name_or_path` in the adapter config.
    pub base_model: String,
    /// Padding token id.
    pub pad_id: u32,
    /// Gradient checkpointing: keep only each layer's input and recompute the layer in the
    /// backward pass (less memory, one more forward pass; the same gradients).
    pub checkpointing: bool,
}

/// Mean loss over `items` (fused kernels, no dropout), weighted by labelled tokens; `None` when
/// no item has a labelled token. Checks `cancel` between batches.
pub fn evaluate_loss<T: LabelledTokens>(
    model: &CausalLm,
    items: &[T],
    batch_size: usize,
    pad_id: u32,
    cancel: &CancelToken,
) -> Result<Option<f64>, TrainError> {
    let (mut total, mut count) = (0f64, 0usize);
    for chunk in items.chunks(batch_size.max(1)) {
        cancel.check()?;
        let refs: Vec<&T> = chunk.iter().collect();
        let batch = collate(&refs, pad_id, model.device())?;
        if let Some((loss, n)) = masked_lm_loss(model, &batch, ForwardCtx::INFERENCE)? {
            total += loss.to_scalar::<f32>()? as f64 * n as f64;
            count += n;
        }
    }
    Ok((count > 0).then(|| total / count as f64))
}

/// Trains LoRA adapters on `job.train`, resuming from `job.out_dir/checkpoint` when present.
/// Reports progress as stage `stage` on `events`. Cancellation is noticed between micro-batches
/// and evaluation batches: the run then writes a checkpoint at the last finished optimiser step,
/// records status `cancelled` and returns [`TrainError::Cancelled`]; running it again resumes on
/// the same curve.
pub fn train<T: LabelledTokens>(
    model: &mut CausalLm,
    job: &TrainJob<'_, T>,
    cfg: &TrainConfig,
    stage: &str,
    events: &EventSink,
    cancel: &CancelToken,
) -> Result<TrainerState, TrainError> {
    cfg.validate().map_err(TrainError::Config)?;
    if job.train.is_empty() {
        return Err(TrainError::Data("no training examples".into()));
    }
    std::fs::create_dir_all(job.out_dir).map_err(|e| TrainError::Checkpoint { path: job.out_dir.to_path_buf(), detail: e.to_string() })?;
    let device = model.device().clone();
    let resumed = load_checkpoint(job.out_dir)?;
    let (lora, start_step) = match &resumed {
        Some(ck) if ck.config != *cfg => {
            return Err(TrainError::Checkpoint {
                path: job.out_dir.join("checkpoint"),
                detail: "was written with different settings; use another output folder, or delete the checkpoint to start over".into(),
            })
        }
        Some(ck) => (LoraSet::from_adapter(&ck.adapter, &cfg.lora, &device)?, ck.step),
        None => (LoraSet::init(&cfg.lora, &model.lora_targets(&cfg.lora), cfg.seed, &device)?, 0),
    };
    model.attach_lora(&lora)?;
    let named: Vec<(String, candle_core::Var)> = lora.named_vars().into_iter().map(|(n, v)| (n, v.clone())).collect();
    let mut optimizer = AdamW::new(named, cfg.adamw)?;
    if let Some(ck) = &resumed {
        optimizer
            .load_state(&ck.optimizer, ck.step)
            .map_err(|detail| TrainError::Checkpoint { path: job.out_dir.join("checkpoint"), detail })?;
    }
    let total_steps = cfg.total_steps(job.train.len());
    let eval_slice = &job.train[..cfg.eval_examples.min(job.train.len())];
    let val_slice = &job.val[..cfg.eval_examples.min(job.val.len())];
    let mut state = TrainerState {
        run: job.run.clone(),
        status: RunStatus::Running,
        message: None,
        global_step: start_step,
        total_steps,
        checkpoint_step: resumed.as_ref().map(|c| c.step),
        train_examples: job.train.len(),
        val_examples: job.val.len(),
        log: Vec::new(),
        evals: Vec::new(),
        config: cfg.clone(),
    };
    if resumed.is_some() {
        match TrainerState::read(job.out_dir) {
            Ok(Some(prev)) => {
                state.log = prev.log.into_iter().filter(|e| e.step <= start_step).collect();
                state.evals = prev.evals.into_iter().filter(|e| e.step <= start_step).collect();
            }
            Ok(None) => {}
            Err(e) => events.warn(format!("{e}; the loss history before step {start_step} starts afresh")),
        }
    }
    // Saves a checkpoint at `step` (the last finished optimiser step) and ends the run as cancelled.
    let stop = |state: &mut TrainerState, optimizer: &AdamW, step: u64, c: Cancelled| -> Result<TrainerState, TrainError> {
        save_checkpoint(job.out_dir, &lora, optimizer, step, cfg, &job.base_model)?;
        state.status = RunStatus::Cancelled;
        state.checkpoint_step = Some(step);
        state.message = Some(c.reason.clone());
        state.write(job.out_dir)?;
        events.log(format!("{}: stopped at step {step} of {total_steps} ({}); run again to resume", job.run, c.reason));
        Err(TrainError::Cancelled(c))
    };
    let run_eval = |model: &CausalLm, state: &mut TrainerState, step: u64| -> Result<(), TrainError> {
        events.progress(stage, step, total_steps, format!("evaluating: validation loss at step {step}"));
        let train_loss = evaluate_loss(model, eval_slice, cfg.micro_batch, job.pad_id, cancel)?.unwrap_or(f64::NAN);
        let val_loss = evaluate_loss(model, val_slice, cfg.micro_batch, job.pad_id, cancel)?;
        state.evals.push(EvalEntry { step, train_loss, val_loss });
        let val_text = val_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a (no validation rows)".into());
        events.log(format!("{} step {step}: validation loss {val_text}, train-slice loss {train_loss:.4}", job.run));
        events.send(Event::Loss { run: job.run.clone(), step, train: Some(train_loss), val: val_loss });
        Ok(())
    };
    // An evaluation point that a cancelled run did not finish is taken when it resumes.
    let due = |step: u64| step == 0 || (cfg.eval_every > 0 && step % cfg.eval_every == 0);
    if state.evals.last().map(|e| e.step) != Some(start_step) && due(start_step) {
        match run_eval(model, &mut state, start_step) {
            Err(TrainError::Cancelled(c)) => return stop(&mut state, &optimizer, start_step, c),
            other => other?,
        }
    }
    events.progress(stage, start_step, total_steps, "");
    let n = job.train.len();
    let mut scaler = LossScaler::for_dtype(model.dtype());
    let failed = |state: &mut TrainerState, step: u64, loss: f64| -> Result<TrainerState, TrainError> {
        state.status = RunStatus::Failed;
        let e = TrainError::NonFinite { step, loss };
        state.message = Some(e.to_string());
        state.write(job.out_dir)?;
        Err(e)
    };
    for step in start_step..total_steps {
        let started = Instant::now();
        // A step whose f16 gradients overflow is computed again at a smaller loss scale.
        let computed = loop {
            let mut accumulated: Option<Vec<Tensor>> = None;
            let (mut loss_sum, mut micro_count, mut tokens) = (0f64, 0usize, 0usize);
            for a in 0..cfg.grad_accum {
                if let Err(c) = cancel.check() {
                    return stop(&mut state, &optimizer, step, c);
                }
                let k = step * cfg.grad_accum as u64 + a as u64;
                let idx = micro_batch_indices(n, cfg.micro_batch, cfg.seed, k);
                let items: Vec<&T> = idx.iter().map(|&i| &job.train[i]).collect();
                let batch: Batch = collate(&items, job.pad_id, &device)?;
                tokens += batch.rows * batch.seq_len;
                let ctx = ForwardCtx {
                    kernels: Kernels::Differentiable,
                    dropout_seed: Some(cfg.seed ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                };
                let found = loss_and_scaled_gradients(model, &batch, ctx, optimizer.params(), job.checkpointing, scaler.scale())?;
                let Some((value, step_grads)) = found else { continue };
                if !value.is_finite() {
                    return failed(&mut state, step + 1, value);
                }
                loss_sum += value;
                micro_count += 1;
                accumulated = Some(match accumulated {
                    None => step_grads,
                    Some(acc) => acc.iter().zip(&step_grads).map(|(a, g)| a + g).collect::<Result<_, candle_core::Error>>()?,
                });
            }
            let Some(grads) = accumulated else { break None };
            let grads: Vec<Tensor> = grads.iter().map(|g| g / micro_count as f64).collect::<Result<_, candle_core::Error>>()?;
            let mut norm_sq = 0f64;
            for g in &grads {
                norm_sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
            match scaler.judge(norm_sq.is_finite()) {
                ScaleVerdict::Step => break Some((grads, norm_sq.sqrt(), loss_sum, micro_count, tokens)),
                ScaleVerdict::Retry { scale } => events.log(format!(
                    "{}: step {}: the f16 gradients overflowed; computing the step again at loss scale {scale}",
                    job.run,
                    step + 1
                )),
                ScaleVerdict::Diverged => return failed(&mut state, step + 1, loss_sum / micro_count as f64),
            }
        };
        let Some((grads, grad_norm, loss_sum, micro_count, tokens)) = computed else { continue };
        let clip = if cfg.max_grad_norm > 0.0 { (cfg.max_grad_norm / (grad_norm + 1e-6)).min(1.0) } else { 1.0 };
        let lr = learning_rate(cfg.schedule, cfg.learning_rate, step, cfg.warmup_steps, total_steps);
        optimizer.step(&grads, lr, clip)?;
        let done = step + 1;
        state.global_step = done;
        let entry = LogEntry {
            step: done,
            loss: loss_sum / micro_count as f64,
            lr,
            grad_norm,
            tokens_per_s: tokens as f64 / started.elapsed().as_secs_f64(),
        };
        events.progress(stage, done, total_steps, format!("loss {:.4}, lr {:.2e}, {:.0} tok/s", entry.loss, lr, entry.tokens_per_s));
        events.send(Event::Loss { run: job.run.clone(), step: done, train: Some(entry.loss), val: None });
        state.log.push(entry);
        if due(done) && done < total_steps {
            match run_eval(model, &mut state, done) {
                Err(TrainError::Cancelled(c)) => return stop(&mut state, &optimizer, done, c),
                other => other?,
            }
        }
        if cfg.save_every > 0 && done % cfg.save_every == 0 && done < total_steps {
            save_checkpoint(job.out_dir, &lora, &optimizer, done, cfg, &job.base_model)?;
            state.checkpoint_step = Some(done);
            state.write(job.out_dir)?;
        }
    }
    if state.evals.last().map(|e| e.step) != Some(total_steps) {
        match run_eval(model, &mut state, total_steps) {
            Err(TrainError::Cancelled(c)) => return stop(&mut state, &optimizer, total_steps, c),
            other => other?,
        }
    }
    save_checkpoint(job.out_dir, &lora, &optimizer, total_steps, cfg, &job.base_model)?;
    lora.save_peft(job.out_dir, &job.base_model)?;
    state.status = RunStatus::Finished;
    state.checkpoint_step = Some(total_steps);
    state.write(job.out_dir)?;
    Ok(state)
}
