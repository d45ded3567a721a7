//! The encoder choice (`builtin` or a sentence-transformers folder) and the batched, cancellable
//! embedding of many texts into one preallocated `[rows, dim]` buffer.

use super::bert::BertEncoder;
use super::builtin::HashedEncoder;
use super::error::EmbedError;
use crate::engine::job::StageScope;
use candle_core::Device;
use rayon::prelude::*;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

/// Which encoder the user asked for. Parsed from `builtin`, `minilm` (all-MiniLM-L6-v2 from the
/// models folder) or a folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EncoderSpec {
    /// The built-in hashed n-gram encoder (no weights needed).
    #[default]
    Builtin,
    /// A sentence-transformers folder of a BERT-family model.
    Dir(PathBuf),
}

impl FromStr for EncoderSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" => Err("empty encoder: use `builtin`, `minilm` or a sentence-transformers folder".into()),
            "builtin" => Ok(Self::Builtin),
            m if m.eq_ignore_ascii_case("minilm") => crate::engine::known_models::minilm_dir().map(Self::Dir).ok_or_else(|| {
                format!(
                    "all-MiniLM-L6-v2 is not in the models folders ({}): fetch it with scripts/fetch-test-models.sh, or give its folder",
                    crate::engine::known_models::model_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            }),
            other => Ok(Self::Dir(PathBuf::from(other))),
        }
    }
}

impl fmt::Display for EncoderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin => write!(f, "builtin"),
            Self::Dir(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A loaded sentence encoder.
pub enum Encoder {
    /// Hashed n-grams with a seeded random projection.
    Builtin(HashedEncoder),
    /// A BERT-family sentence-transformers model.
    Bert(Box<BertEncoder>),
}

impl Encoder {
    /// Loads the encoder `spec` names; BERT weights go to `device`.
    pub fn load(spec: &EncoderSpec, device: &Device) -> Result<Self, EmbedError> {
        Self::load_with(spec, device, true)
    }

    /// As [`Encoder::load`]; `packed_cpu = false` runs BERT through candle-transformers'
    /// `BertModel` on the CPU as well (for comparison).
    pub fn load_with(spec: &EncoderSpec, device: &Device, packed_cpu: bool) -> Result<Self, EmbedError> {
        match spec {
            EncoderSpec::Builtin => Ok(Self::Builtin(HashedEncoder::default())),
            EncoderSpec::Dir(dir) => Ok(Self::Bert(Box::new(BertEncoder::load_with(dir, device, packed_cpu)?))),
        }
    }

    /// Stable identity, written into embedding files and used in cache keys.
    pub fn id(&self) -> String {
        match self {
            Self::Builtin(e) => e.id(),
            Self::Bert(e) => e.id().to_string(),
        }
    }

    /// Output dimension.
    pub fn dim(&self) -> usize {
        match self {
            Self::Builtin(e) => e.dim,
            Self::Bert(e) => e.dim,
        }
    }

    /// Whether its vectors are L2-normalised.
    pub fn normalizes(&self) -> bool {
        match self {
            Self::Builtin(_) => true,
            Self::Bert(e) => e.normalize,
        }
    }
}

/// How texts are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Texts per forward pass (sentence-transformers' default is 32; the benchmarks use 64).
    pub batch_size: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self { batch_size: 64 }
    }
}

/// Embeds `texts` into a row-major `[texts.len(), dim]` buffer, in input order. Texts are sorted by
/// length (longest first, as sentence-transformers does) and batched so that padding is minimal;
/// each batch's vectors are written straight into the preallocated output, so memory stays at the
/// output plus one batch. Reports progress through `scope` and checks cancellation per batch.
pub fn embed_texts(encoder: &Encoder, texts: &[String], opts: &EmbedOptions, scope: &StageScope<'_>) -> Result<Vec<f32>, EmbedError> {
    if texts.is_empty() {
        return Err(EmbedError::NoTexts);
    }
    let dim = encoder.dim();
    let n = texts.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(texts[i].chars().count()));
    let mut out = vec![0f32; n * dim];
    let batch_size = opts.batch_size.max(1);
    let started = Instant::now();
    let mut done = 0usize;
    scope.progress(0, n as u64, "");
    // The built-in encoder is cheap per text: hand it bigger slices, in parallel.
    let step = match encoder {
        Encoder::Builtin(_) => batch_size.max(1024),
        Encoder::Bert(_) => batch_size,
    };
    for chunk in order.chunks(step) {
        scope.check()?;
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        let vectors = match encoder {
            Encoder::Builtin(e) => {
                let mut v = vec![0f32; batch.len() * dim];
                v.par_chunks_mut(dim).zip(batch.par_iter()).for_each(|(row, t)| e.encode_into(t, row));
                v
            }
            Encoder::Bert(e) => e.encode_batch(&batch)?,
        };
        for (k, &i) in chunk.iter().enumerate() {
            out[i * dim..(i + 1) * dim].copy_from_slice(&vectors[k * dim..(k + 1) * dim]);
        }
        done += chunk.len();
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        scope.progress(done as u64, n as u64, format!("{rate:.0} texts/s"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_builtin_and_folders() {
        assert_eq!("builtin".parse::<EncoderSpec>().unwrap(), EncoderSpec::Builtin);
        assert_eq!("/m/x".parse::<EncoderSpec>().unwrap(), EncoderSpec::Dir("/m/x".into()));
        assert!("".parse::<EncoderSpec>().is_err());
    }

    #[test]
    fn output_keeps_input_order_and_cancel_stops() {
        use crate::engine::job::{CancelToken, EventSink};
        let enc = Encoder::Builtin(HashedEncoder { dim: 16, seed: 3 });
        let texts: Vec<String> = ["a much longer text about cats and dogs", "dogs", "cats and more cats"].map(String::from).to_vec();
        let (sink, cancel) = (EventSink::discard(), CancelToken::new());
        let scope = StageScope { name: "embed", sink: &sink, cancel: &cancel };
        let v = embed_texts(&enc, &texts, &EmbedOptions { batch_size: 1 }, &scope).unwrap();
        let direct = HashedEncoder { dim: 16, seed: 3 }.encode_batch(&["dogs"]);
        assert_eq!(&v[16..32], &direct[..]);
        assert!(matches!(embed_texts(&enc, &[], &EmbedOptions::default(), &scope), Err(EmbedError::NoTexts)));
        cancel.cancel("test");
        let err = embed_texts(&enc, &texts, &EmbedOptions::default(), &scope).unwrap_err();
        assert!(matches!(err, EmbedError::Cancelled(_)));
    }
}
