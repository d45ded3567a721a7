//! One micro-batch's loss and the gradients of the trainable parameters, through one backward
//! pass over the whole graph or with gradient checkpointing.
//!
//! Checkpointing keeps only each decoder layer's input during the forward pass (the layer's
//! activations are dropped as soon as its output is known), then walks the layers backwards:
//! it runs layer `l` again from its kept input and back-propagates the gradient that reached
//! the layer's output, which gives that layer's parameter gradients and the gradient of its
//! input for the layer below. The peak holds every layer's input and one layer's activations
//! instead of every layer's activations, for one more forward pass per step. Dropout masks are
//! drawn from the pass's seed, so the recomputed layer equals the first one exactly.

use super::batch::Batch;
use super::loss::{head_loss, loss_positions, masked_lm_loss};
use crate::engine::model::linear::ForwardCtx;
use crate::engine::model::CausalLm;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// The loss of `batch` (mean over its labelled positions) and the gradient of each of `params`
/// (zeros where none reaches it), or `None` when the batch has no labelled position.
pub fn loss_and_gradients(
    model: &CausalLm,
    batch: &Batch,
    ctx: ForwardCtx,
    params: &[(String, Var)],
    checkpointing: bool,
) -> Result<Option<(f64, Vec<Tensor>)>> {
    loss_and_scaled_gradients(model, batch, ctx, params, checkpointing, 1.0)
}

/// [`loss_and_gradients`] with the backward pass run on `scale` times the loss (dynamic loss
/// scaling for f16); the gradients returned are divided by `scale` again.
pub fn loss_and_scaled_gradients(
    model: &CausalLm,
    batch: &Batch,
    ctx: ForwardCtx,
    params: &[(String, Var)],
    checkpointing: bool,
    scale: f64,
) -> Result<Option<(f64, Vec<Tensor>)>> {
    let found = if checkpointing {
        checkpointed(model, batch, ctx, params, scale)?
    } else {
        let Some((loss, _)) = masked_lm_loss(model, batch, ctx)? else { return Ok(None) };
        let value = f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
        let grads = scaled(loss, scale)?.backward()?;
        let mut out = zeros(params)?;
        add_grads(&mut out, params, &grads)?;
        Some((value, out))
    };
    match found {
        Some((value, grads)) if scale != 1.0 => Ok(Some((value, grads.iter().map(|g| g / scale).collect::<Result<_>>()?))),
        other => Ok(other),
    }
}

fn scaled(loss: Tensor, scale: f64) -> Result<Tensor> {
    if scale == 1.0 {
        Ok(loss)
    } else {
        loss * scale
    }
}

fn zeros(params: &[(String, Var)]) -> Result<Vec<Tensor>> {
    params.iter().map(|(_, v)| v.as_tensor().zeros_like()).collect()
}

/// Adds the gradients `grads` holds for `params` into `into`.
fn add_grads(into: &mut [Tensor], params: &[(String, Var)], grads: &GradStore) -> Result<()> {
    for (slot, (_, var)) in into.iter_mut().zip(params) {
        if let Some(g) = grads.get(var.as_tensor()) {
            *slot = (&*slot + g)?;
        }
    }
    Ok(())
}

fn checkpointed(
    model: &CausalLm,
    batch: &Batch,
    ctx: ForwardCtx,
    params: &[(String, Var)],
    scale: f64,
) -> Result<Option<(f64, Vec<Tensor>)>> {
    let (positions, targets) = loss_positions(batch);
    if positions.is_empty() {
        return Ok(None);
    }
    // Forward: keep each layer's input, detached, so no layer's graph outlives its output.
    let layers = model.num_layers();
    let mut inputs = Vec::with_capacity(layers);
    let mut xs = model.embed(&batch.input_ids)?.detach();
    for l in 0..layers {
        let out = model.decoder_layer(l, &xs, ctx)?.detach();
        inputs.push(xs);
        xs = out;
    }
    // The head: the loss, and the gradient that reaches the last layer's output.
    let last = Var::from_tensor(&xs)?;
    drop(xs);
    let hidden = model.final_norm(last.as_tensor(), ctx)?;
    let loss = head_loss(model, &hidden, batch.rows * batch.seq_len, positions, &targets, ctx)?;
    let value = f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
    let grads = scaled(loss, scale)?.backward()?;
    let mut out = zeros(params)?;
    add_grads(&mut out, params, &grads)?;
    let mut upstream =
        grads.get(last.as_tensor()).cloned().ok_or_else(|| candle_core::Error::Msg("no gradient reached the last layer".into()))?;
    drop(grads);
    // Backward, one layer at a time from the top: recompute, then back-propagate `upstream`.
    while let Some(input) = inputs.pop() {
        let input = Var::from_tensor(&input)?;
        let output = model.decoder_layer(inputs.len(), input.as_tensor(), ctx)?;
        // d(sum(output * upstream)) / d(output) is `upstream` itself.
        let grads = (output * &upstream)?.sum_all()?.backward()?;
        add_grads(&mut out, params, &grads)?;
        if !inputs.is_empty() {
            upstream = grads
                .get(input.as_tensor())
                .cloned()
                .ok_or_else(|| candle_core::Error::Msg("no gradient reached a layer's input".into()))?;
        }
    }
    Ok(Some((value, out)))
}
