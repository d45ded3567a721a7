//! Small, stable hashes and a seeded generator shared by every stage: SplitMix64 (its mixing
//! function and the generator built on it), FNV-1a, and SHA-256 of bytes, files and folders as
//! lowercase hex. Their outputs are part of file formats (splits, cache keys, result records), so
//! they never change between releases.

use crate::engine::job::{CancelToken, Cancelled};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// SplitMix64's output function: a well-mixed 64-bit hash step.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: a small, fixed pseudo-random generator, so a seed gives the same split in every
/// version of DTM Studio (library generators may change their streams between releases).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let out = splitmix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        out
    }

    /// A uniform float in `[0, 1)` (24 random bits).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 for
    /// any dataset size).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// FNV-1a (64-bit) of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Hashing was cancelled (a big model takes seconds per gigabyte).
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

fn sha256_file(path: &Path, hasher: &mut Sha256, cancel: &CancelToken) -> Result<(), HashError> {
    let io = |source| HashError::Io { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        cancel.check()?;
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

/// SHA-256 of a file, or of a folder's regular files (names and contents, sorted by name, not
/// recursing; hidden files skipped), as lowercase hex. Checks `cancel` every megabyte.
pub fn sha256_path(path: &Path, cancel: &CancelToken) -> Result<String, HashError> {
    let mut hasher = Sha256::new();
    if path.is_dir() {
        let io = |source| HashError::Io { path: path.to_path_buf(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().and_then(|n| n.to_str()).unwrap_or(".").starts_with('.'))
            .collect();
        files.sort();
        for f in files {
            let mut inner = Sha256::new();
            sha256_file(&f, &mut inner, cancel)?;
            hasher.update(f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().as_bytes());
            hasher.update([0]);
            hasher.update(inner.finalize());
        }
    } else {
        sha256_file(path, &mut hasher, cancel)?;
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_stream() {
        // First outputs of SplitMix64 seeded with 1234567 (Vigna's reference implementation).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    #[test]
    fn fnv1a_and_sha256_match_published_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hashing_a_file_can_be_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let cancel = CancelToken::new();
        assert_eq!(sha256_path(&p, &cancel).unwrap(), sha256_hex(b"abc"));
        let folder = sha256_path(dir.path(), &cancel).unwrap();
        std::fs::write(dir.path().join("g"), b"x").unwrap();
        assert_ne!(folder, sha256_path(dir.path(), &cancel).unwrap());
        cancel.cancel("stop");
        assert!(matches!(sha256_path(&p, &cancel), Err(HashError::Cancelled(_))));
    }
}
