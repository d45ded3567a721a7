//! The built-in encoder: needs no model weights. Content words and word bigrams are hashed
//! (seeded, stable across platforms) and projected at random onto `dim` coordinates, each feature
//! onto a few signed coordinates (a sparse random projection of the bag of n-grams), weighted by
//! `1 + ln(count)`, then L2-normalised. Texts that share words land near each other, which is
//! enough to split instruction data by kind of task and to draw a map of it.

use super::words::{content_words, word_tokens};
use crate::engine::hash::{fnv1a, splitmix64 as mix64};

/// Coordinates each feature is spread over.
const TOUCHES_PER_FEATURE: usize = 4;
/// Weight of a word bigram relative to a word.
const BIGRAM_WEIGHT: f32 = 0.5;

/// Hashed bag-of-n-grams encoder with a seeded sparse random projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedEncoder {
    /// Output dimension.
    pub dim: usize,
    /// Seed of the hash functions (the projection).
    pub seed: u64,
}

impl Default for HashedEncoder {
    fn default() -> Self {
        Self { dim: 384, seed: 0 }
    }
}

/// FNV-1a over the bytes, then mixed with the seed. Stable across platforms and releases.
fn feature_hash(bytes: &[u8], seed: u64) -> u64 {
    mix64(fnv1a(bytes) ^ mix64(seed))
}

impl HashedEncoder {
    /// The identity written into embedding files and cache keys.
    pub fn id(&self) -> String {
        format!("builtin:hashed-ngrams-v1:dim={}:seed={}", self.dim, self.seed)
    }

    /// Adds `weight` times the feature's random signed direction to `out`.
    fn add_feature(&self, feature: &str, weight: f32, out: &mut [f32]) {
        let mut h = feature_hash(feature.as_bytes(), self.seed);
        let scale = weight / (TOUCHES_PER_FEATURE as f32).sqrt();
        for _ in 0..TOUCHES_PER_FEATURE {
            h = mix64(h);
            let coord = (h % self.dim as u64) as usize;
            let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
            out[coord] += sign * scale;
        }
    }

    /// Embeds one text into `out` (length `dim`), L2-normalised. A text with no words at all
    /// (empty, punctuation only) gives the zero vector.
    pub fn encode_into(&self, text: &str, out: &mut [f32]) {
        out.fill(0.0);
        let mut words: Vec<String> = content_words(text).collect();
        if words.is_empty() {
            // Only stop words or numbers: use them rather than return nothing.
            words = word_tokens(text).collect();
        }
        let mut features: Vec<(String, f32)> = Vec::with_capacity(words.len() * 2);
        for w in &words {
            features.push((format!("w:{w}"), 1.0));
        }
        for pair in words.windows(2) {
            features.push((format!("b:{} {}", pair[0], pair[1]), BIGRAM_WEIGHT));
        }
        features.sort_by(|a, b| a.0.cmp(&b.0));
        let mut i = 0;
        while i < features.len() {
            let mut j = i;
            while j < features.len() && features[j].0 == features[i].0 {
                j += 1;
            }
            let count = (j - i) as f32;
            self.add_feature(&features[i].0, features[i].1 * (1.0 + count.ln()), out);
            i = j;
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|v| *v /= norm);
        }
    }

    /// Embeds a batch into a row-major `[texts.len(), dim]` buffer.
    pub fn encode_batch(&self, texts: &[&str]) -> Vec<f32> {
        let mut out = vec![0.0; texts.len() * self.dim];
        for (t, row) in texts.iter().zip(out.chunks_mut(self.dim)) {
            self.encode_into(t, row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn shared_words_mean_higher_similarity() {
        let enc = HashedEncoder::default();
        let v = enc.encode_batch(&[
            "Write a poem about the sea.",
            "Write a short poem about the ocean and the sea.",
            "Convert 25 degrees Celsius to Fahrenheit.",
        ]);
        let (a, b, c) = (&v[0..384], &v[384..768], &v[768..1152]);
        assert!((cos(a, a) - 1.0).abs() < 1e-5);
        assert!(cos(a, b) > 0.5, "{}", cos(a, b));
        assert!(cos(a, c).abs() < 0.3, "{}", cos(a, c));
    }

    #[test]
    fn seed_changes_the_projection_and_is_deterministic() {
        let a = HashedEncoder { dim: 64, seed: 1 }.encode_batch(&["hello world"]);
        let b = HashedEncoder { dim: 64, seed: 1 }.encode_batch(&["hello world"]);
        let c = HashedEncoder { dim: 64, seed: 2 }.encode_batch(&["hello world"]);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn empty_text_is_the_zero_vector_and_stop_words_still_count() {
        let enc = HashedEncoder::default();
        let v = enc.encode_batch(&["", "  ?! ", "the of and"]);
        assert!(v[..768].iter().all(|x| *x == 0.0));
        let n: f32 = v[768..].iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5);
    }
}
