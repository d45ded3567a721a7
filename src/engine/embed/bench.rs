//! Embedding throughput in the units of the sentence-transformers reference script
//! (`sentences_per_s` over the same 2,000 sentences, batch 64, median of 3 after 1 warm-up).
//! The sentences are rebuilt exactly as the script builds them, with a port of Python's
//! `random` (MT19937, `seed(0)`, `randint`, `choice`), so both sides embed the same text.

use super::encoder::{EmbedOptions, Encoder};
use super::error::EmbedError;
use crate::engine::bench::median_seconds;
use crate::engine::job::{CancelToken, EventSink, StageScope};
use serde::Serialize;

/// Python's `random.Random`: the Mersenne Twister with CPython's seeding and `_randbelow`.
pub struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    /// `random.seed(seed)` for a non-negative integer seed below 2^32.
    pub fn new(seed: u32) -> Self {
        let mut r = Self { mt: [0; 624], index: 624 };
        r.init_genrand(19_650_218);
        // init_by_array with key = [seed]
        let key = [seed];
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624usize.max(key.len()) {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                r.mt[0] = r.mt[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                r.mt[0] = r.mt[623];
                i = 1;
            }
        }
        r.mt[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..624 {
            self.mt[i] = 1_812_433_253u32.wrapping_mul(self.mt[i - 1] ^ (self.mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        self.index = 624;
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(k + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.mt[k] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `_randbelow(n)` for `0 < n < 2^32`: rejection sampling on `n.bit_length()` bits.
    pub fn randbelow(&mut self, n: u32) -> u32 {
        let k = 32 - n.leading_zeros();
        loop {
            let r = self.next_u32() >> (32 - k);
            if r < n {
                return r;
            }
        }
    }

    /// `randint(a, b)`, both ends included.
    pub fn randint(&mut self, a: u32, b: u32) -> u32 {
        a + self.randbelow(b - a + 1)
    }
}

/// The 2,000 sentences of the reference script (`random.seed(0)`; 8 to 40 words each).
pub fn anchor_sentences() -> Vec<String> {
    let words: Vec<&str> = "the of and to in is you that it he was for on are as with his they at be this have from or one had by word \
but not what all were we when your can said there use an each which she do how their if will up other about"
        .split_whitespace()
        .collect();
    let mut rng = PyRandom::new(0);
    (0..2000)
        .map(|_| {
            let n = rng.randint(8, 40);
            (0..n).map(|_| words[rng.randbelow(words.len() as u32) as usize]).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// One embedding-throughput figure.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedBenchFigure {
    /// Always "embed".
    pub what: &'static str,
    /// Sentences per second (median repetition).
    pub sentences_per_s: f64,
    /// Number of sentences.
    pub n: usize,
    /// Sentences per batch.
    pub batch: usize,
    /// CPU threads available.
    pub threads: usize,
    /// The encoder's identity.
    pub encoder: String,
    /// Device description.
    pub device: String,
}

/// Embeds `sentences` once untimed and `reps` times timed; reports the median rate.
pub fn embed_throughput(
    encoder: &Encoder,
    sentences: &[String],
    batch: usize,
    reps: usize,
    device: String,
) -> Result<EmbedBenchFigure, EmbedError> {
    let opts = EmbedOptions { batch_size: batch };
    let (sink, cancel) = (EventSink::discard(), CancelToken::new());
    let scope = StageScope { name: "bench embed", sink: &sink, cancel: &cancel };
    let seconds = median_seconds(1, reps, || super::encoder::embed_texts(encoder, sentences, &opts, &scope).map(drop))?;
    Ok(EmbedBenchFigure {
        what: "embed",
        sentences_per_s: sentences.len() as f64 / seconds,
        n: sentences.len(),
        batch,
        threads: rayon::current_num_threads(),
        encoder: encoder.id(),
        device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_random_is_reproduced() {
        // Python: random.seed(0); [random.getrandbits(32) for _ in range(3)] and randint(8, 40).
        let mut r = PyRandom::new(0);
        assert_eq!([r.next_u32(), r.next_u32(), r.next_u32()], [3_626_764_237, 1_654_615_998, 3_255_389_356]);
        let s = anchor_sentences();
        assert_eq!(s.len(), 2000);
        let n_words: Vec<usize> = s.iter().map(|t| t.split(' ').count()).collect();
        assert!(n_words.iter().all(|&n| (8..=40).contains(&n)));
        // Python: the script's `sents[0]`, `sents[1999]` and sha256("\n".join(sents)).
        assert_eq!(s[0], "will by and his were all had other be what from said are were it at it will you use about his when how about there he be you their in she");
        assert_eq!(s[1999], "if and have it an this at do have use but not are use but word will how was how their or was that what which do but when this had as each");
        let digest = crate::engine::hash::sha256_hex(s.join("\n").as_bytes());
        assert_eq!(digest, "65c60b7e169661ad339b83a9b571dd195461f2a8a06e10d8427cfea9d5f08df5");
    }
}
