//! Turning labelled token sequences into padded batches in a seeded order.

use candle_core::{Device, Result, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Label value of positions that carry no loss (the prompt, padding), as in `transformers`.
pub const IGNORE_INDEX: i64 = -100;

/// A token sequence with one label per token (`IGNORE_INDEX` where no loss is taken).
pub trait LabelledTokens {
    /// Token ids.
    fn input_ids(&self) -> &[u32];
    /// Labels, as long as `input_ids`.
    fn labels(&self) -> &[i64];
}

/// A plain owned sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSequence {
    /// Token ids.
    pub input_ids: Vec<u32>,
    /// Labels, as long as `input_ids`.
    pub labels: Vec<i64>,
}

impl LabelledTokens for TokenSequence {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn labels(&self) -> &[i64] {
        &self.labels
    }
}

/// A right-padded batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, seq]` u32.
    pub input_ids: Tensor,
    /// Labels, `batch * seq`, `IGNORE_INDEX` on padding.
    pub labels: Vec<i64>,
    /// Sequences in the batch.
    pub rows: usize,
    /// Padded length.
    pub seq_len: usize,
    /// Real (non-padding) tokens.
    pub tokens: usize,
}

/// Right-pads the sequences to the longest one.
pub fn collate<T: LabelledTokens>(items: &[&T], pad_id: u32, device: &Device) -> Result<Batch> {
    let seq_len = items.iter().map(|e| e.input_ids().len()).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(items.len() * seq_len);
    let mut labels = Vec::with_capacity(items.len() * seq_len);
    let mut tokens = 0;
    for e in items {
        let n = e.input_ids().len();
        tokens += n;
        ids.extend_from_slice(e.input_ids());
        ids.extend(std::iter::repeat_n(pad_id, seq_len - n));
        labels.extend_from_slice(e.labels());
        labels.extend(std::iter::repeat_n(IGNORE_INDEX, seq_len - n));
    }
    let input_ids = Tensor::from_vec(ids, (items.len(), seq_len), device)?;
    Ok(Batch { input_ids, labels, rows: items.len(), seq_len, tokens })
}

/// The example order of one epoch: a permutation seeded by (seed, epoch).
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(epoch.wrapping_mul(0x2545_F491_4F6C_DD1D)));
    order.shuffle(&mut rng);
    order
}

/// The indices of micro-batch number `k` (counted over all epochs), `micro_batch` examples each;
/// an epoch's last, smaller micro-batch is kept.
pub fn micro_batch_indices(n: usize, micro_batch: usize, seed: u64, k: u64) -> Vec<usize> {
    let per_epoch = n.div_ceil(micro_batch).max(1) as u64;
    let (epoch, within) = (k / per_epoch, (k % per_epoch) as usize);
    let order = epoch_order(n, seed, epoch);
    let start = within * micro_batch;
    order[start..(start + micro_batch).min(n)].to_vec()
}

impl LabelledTokens for crate::engine::data::tokenize::TokenizedExample {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn labels(&self) -> &[i64] {
        &self.labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collate_pads_ids_and_masks_labels() {
        let a = TokenSequence { input_ids: vec![1, 2, 3], labels: vec![-100, 2, 3] };
        let b = TokenSequence { input_ids: vec![4], labels: vec![4] };
        let batch = collate(&[&a, &b], 0, &Device::Cpu).unwrap();
        assert_eq!(batch.input_ids.to_vec2::<u32>().unwrap(), vec![vec![1, 2, 3], vec![4, 0, 0]]);
        assert_eq!(batch.labels, vec![-100, 2, 3, 4, -100, -100]);
        assert_eq!(batch.tokens, 4);
    }

    #[test]
    fn order_is_seeded_and_covers_each_epoch() {
        let e0 = epoch_order(10, 3, 0);
        assert_eq!(e0, epoch_order(10, 3, 0));
        assert_ne!(e0, epoch_order(10, 3, 1));
        let mut seen: Vec<usize> = (0..4).flat_map(|k| micro_batch_indices(10, 3, 3, k)).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(micro_batch_indices(10, 3, 3, 3).len(), 1);
    }
}
