//! Padded batches of tokenised examples and a seeded, length-grouped batch order.

use super::tokenize::{TokenizedExample, IGNORE_INDEX};
use crate::engine::hash::SplitMix64;

/// Right-pads `examples` to the longest one: returns (`input_ids` [b*t], `labels` [b*t], b, t),
/// padding ids with `pad_id` and labels with -100 (no loss on padding).
pub fn collate(examples: &[&TokenizedExample], pad_id: u32) -> (Vec<u32>, Vec<i64>, usize, usize) {
    let b = examples.len();
    let t = examples.iter().map(|e| e.input_ids.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(b * t);
    let mut labels = Vec::with_capacity(b * t);
    for e in examples {
        let pad = t - e.input_ids.len();
        ids.extend_from_slice(&e.input_ids);
        ids.extend(std::iter::repeat_n(pad_id, pad));
        labels.extend_from_slice(&e.labels);
        labels.extend(std::iter::repeat_n(IGNORE_INDEX, pad));
    }
    (ids, labels, b, t)
}

/// Batches of indices into `lengths` for one epoch, seeded: the examples are shuffled, cut into
/// mega-batches of `group` batches, each mega-batch sorted by length (longest first) and cut into
/// batches of `batch_size`, and the batches shuffled again. Similar lengths share a batch, so
/// less padding is computed; `group = 1` gives plain shuffled batches. Every index appears once.
pub fn length_grouped_batches(lengths: &[usize], batch_size: usize, group: usize, seed: u64) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut order);
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for mega in order.chunks(batch_size * group.max(1)) {
        let mut mega = mega.to_vec();
        if group > 1 {
            mega.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        }
        batches.extend(mega.chunks(batch_size).map(<[usize]>::to_vec));
    }
    if group > 1 {
        rng.shuffle(&mut batches);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(ids: &[u32], trained_from: usize) -> TokenizedExample {
        let labels = ids.iter().enumerate().map(|(i, &id)| if i >= trained_from { i64::from(id) } else { IGNORE_INDEX }).collect();
        TokenizedExample { input_ids: ids.to_vec(), labels }
    }

    #[test]
    fn collate_right_pads_ids_and_masks_padding() {
        let (a, b) = (ex(&[5, 6, 7], 1), ex(&[8], 0));
        let (ids, labels, rows, t) = collate(&[&a, &b], 0);
        assert_eq!((rows, t), (2, 3));
        assert_eq!(ids, vec![5, 6, 7, 8, 0, 0]);
        assert_eq!(labels, vec![-100, 6, 7, 8, -100, -100]);
    }

    #[test]
    fn grouped_batches_cover_every_index_once_and_group_lengths() {
        let lengths: Vec<usize> = (0..100).map(|i| (i * 37) % 101).collect();
        let batches = length_grouped_batches(&lengths, 4, 5, 3);
        assert_eq!(batches, length_grouped_batches(&lengths, 4, 5, 3));
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let spread = |bs: &[Vec<usize>]| -> usize {
            bs.iter().map(|b| b.iter().map(|&i| lengths[i]).max().unwrap() - b.iter().map(|&i| lengths[i]).min().unwrap()).sum()
        };
        assert!(spread(&batches) * 2 < spread(&length_grouped_batches(&lengths, 4, 1, 3)));
    }
}
