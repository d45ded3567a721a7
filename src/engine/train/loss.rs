//! The causal-LM loss on labelled positions only. Logits are computed just where a label exists,
//! so the output projection (a fifth of the model's work) skips prompt and padding positions.

use super::batch::{Batch, IGNORE_INDEX};
use super::cross_entropy::{cross_entropy, head_cross_entropy};
use crate::engine::model::linear::ForwardCtx;
use crate::engine::model::CausalLm;
use candle_core::{Result, Tensor};

/// Positions whose next token is labelled, and those labels.
pub fn loss_positions(batch: &Batch) -> (Vec<u32>, Vec<u32>) {
    let t = batch.seq_len;
    let mut positions = Vec::new();
    let mut targets = Vec::new();
    for r in 0..batch.rows {
        for p in 0..t.saturating_sub(1) {
            let label = batch.labels[r * t + p + 1];
            if label != IGNORE_INDEX && label >= 0 {
                positions.push((r * t + p) as u32);
                targets.push(label as u32);
            }
        }
    }
    (positions, targets)
}

/// Mean next-token cross-entropy over labelled positions, and how many there were. `None` when
/// the batch has no labelled position.
pub fn masked_lm_loss(model: &CausalLm, batch: &Batch, ctx: ForwardCtx) -> Result<Option<(Tensor, usize)>> {
    let (positions, targets) = loss_positions(batch);
    if positions.is_empty() {
        return Ok(None);
    }
    let hidden = model.hidden_states(&batch.input_ids, None, ctx)?;
    head_loss(model, &hidden, batch.rows * batch.seq_len, positions, &targets, ctx).map(|loss| Some((loss, targets.len())))
}

/// The mean cross-entropy of the output projection at `positions` of the final-norm hidden
/// states (`tokens` rows once flattened) against `targets`.
pub fn head_loss(
    model: &CausalLm,
    hidden: &Tensor,
    tokens: usize,
    positions: Vec<u32>,
    targets: &[u32],
    ctx: ForwardCtx,
) -> Result<Tensor> {
    let hidden = hidden.reshape((tokens, model.config().hidden_size))?;
    let n = positions.len();
    let selected = hidden.index_select(&Tensor::from_vec(positions, n, model.device())?, 0)?;
    match head_cross_entropy(&selected, model.lm_head(), targets)? {
        Some(loss) => Ok(loss),
        None => cross_entropy(&model.logits(&selected, ctx)?.to_dtype(candle_core::DType::F32)?, targets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::train::batch::{collate, TokenSequence};
    use candle_core::Device;

    #[test]
    fn positions_are_shifted_labels() {
        let a = TokenSequence { input_ids: vec![10, 11, 12, 13], labels: vec![-100, -100, 12, 13] };
        let b = TokenSequence { input_ids: vec![20, 21], labels: vec![-100, 21] };
        let batch = collate(&[&a, &b], 0, &Device::Cpu).unwrap();
        let (pos, tgt) = loss_positions(&batch);
        assert_eq!(pos, vec![1, 2, 4]);
        assert_eq!(tgt, vec![12, 13, 21]);
    }
}
