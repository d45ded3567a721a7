//! Keys and values of the positions already processed, one slot per layer, for generation.

use candle_core::Tensor;

/// Per-layer cached keys and values `[batch, kv_heads, seq, head_dim]`.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<(Option<Tensor>, Option<Tensor>)>,
    len: usize,
}

impl KvCache {
    /// An empty cache for `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self { layers: vec![(None, None); num_layers], len: 0 }
    }

    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The (keys, values) slot of one layer.
    pub(crate) fn layer_mut(&mut self, layer: usize) -> &mut (Option<Tensor>, Option<Tensor>) {
        &mut self.layers[layer]
    }

    /// Records that `tokens` more positions were cached.
    pub(crate) fn advance(&mut self, tokens: usize) {
        self.len += tokens;
    }
}
