//! Seeded train / validation splits and row selections (`0-99,200-299` or a file of indices).

use super::error::{DataError, Result};
use super::example::Dataset;
use super::tokenize::TokenizedExample;
use crate::engine::hash::SplitMix64;
use std::path::Path;

/// Splits `0..n` into (train, validation) index lists, both sorted ascending and disjoint,
/// together covering `0..n`. The validation size is `round(n * val_fraction)` capped at
/// `val_max`, and at least one example stays in training. The same seed gives the same split.
pub fn split_train_val(n: usize, val_fraction: f64, val_max: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let fraction = if val_fraction.is_finite() { val_fraction.clamp(0.0, 1.0) } else { 0.0 };
    let n_val = ((n as f64 * fraction).round() as usize).min(val_max).min(n.saturating_sub(1));
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let mut val = order[..n_val].to_vec();
    let mut train = order[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Parses a row selection over `n_rows` rows into sorted, distinct indices. `spec` is either a
/// file holding indices (one per line or separated by commas; ranges allowed; `#` starts a
/// comment) or a list like `0-99,200-299,512` (ranges inclusive).
pub fn parse_row_selection(spec: &str, n_rows: usize) -> Result<Vec<usize>> {
    let path = Path::new(spec.trim());
    let (text, origin) = if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
        (text, format!("{}", path.display()))
    } else {
        (spec.to_string(), "row selection".to_string())
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let body = line.split('#').next().unwrap_or("");
        let at = if origin == "row selection" { origin.clone() } else { format!("{origin}:{}", i + 1) };
        for part in body.split([',', ' ', '\t']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |why: String| DataError::BadOption(format!("{at}: '{part}' {why}"));
            let index = |s: &str| -> Result<usize> {
                let v: usize = s.trim().parse().map_err(|_| bad("is not a row index or a range like 0-99".into()))?;
                if v >= n_rows {
                    return Err(bad(format!(
                        "selects row {v}, out of range: the data has {n_rows} rows (0..={})",
                        n_rows.saturating_sub(1)
                    )));
                }
                Ok(v)
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (index(a)?, index(b)?);
                    if a > b {
                        return Err(bad("is a range that runs backwards".into()));
                    }
                    rows.extend(a..=b);
                }
                None => rows.push(index(part)?),
            }
        }
    }
    rows.sort_unstable();
    rows.dedup();
    if rows.is_empty() {
        return Err(DataError::BadOption(format!("{origin}: selects no rows")));
    }
    Ok(rows)
}

/// Keeps the tokenised examples selected by `rows`, in order; `None` keeps all. `rows` is either
/// a portion of a split, `CLUSTERS.json:N` (the examples `dtm-studio cluster` assigned to portion
/// N; the file must have been made from this data), or a [`parse_row_selection`] spec over file
/// rows (0-based). `source_index[i]` is `tokenized[i]`'s position in `ds.examples`.
pub fn select_rows(
    ds: &Dataset,
    tokenized: Vec<TokenizedExample>,
    source_index: &[usize],
    rows: Option<&str>,
) -> Result<Vec<TokenizedExample>> {
    let Some(spec) = rows else { return Ok(tokenized) };
    let keep: Box<dyn Fn(usize) -> bool> = match portion_of(spec) {
        Some((path, portion)) => {
            let assignment = portion_assignment(ds, path, portion)?;
            Box::new(move |src| assignment[src] == portion)
        }
        None => {
            let n_rows = ds.examples.iter().map(|e| e.row + 1).max().unwrap_or(0);
            let wanted: std::collections::HashSet<usize> = parse_row_selection(spec, n_rows)?.into_iter().collect();
            Box::new(move |src| wanted.contains(&ds.examples[src].row))
        }
    };
    Ok(tokenized.into_iter().zip(source_index).filter(|(_, &src)| keep(src)).map(|(t, _)| t).collect())
}

/// `CLUSTERS.json:N` -> (path, N) when the path names an existing file.
fn portion_of(spec: &str) -> Option<(&Path, u32)> {
    let (path, n) = spec.trim().rsplit_once(':')?;
    let path = Path::new(path);
    (path.is_file() && path.extension().is_some_and(|e| e == "json")).then_some(())?;
    Some((path, n.trim().parse().ok()?))
}

/// The split's assignment, checked against `ds` and `portion`.
fn portion_assignment(ds: &Dataset, path: &Path, portion: u32) -> Result<Vec<u32>> {
    let file = crate::engine::cluster::output::ClustersFile::load(path).map_err(|e| DataError::BadOption(e.to_string()))?;
    let bad = |why: String| Err(DataError::BadOption(format!("{}: {why}", path.display())));
    if file.data_sha256 != ds.sha256 || file.rows != ds.examples.len() {
        return bad(format!(
            "was made from other data ({} rows, sha256 {}), not {}; cluster this file again",
            file.rows,
            file.data_sha256,
            ds.path.display()
        ));
    }
    if portion as usize >= file.k {
        return bad(format!("has portions 0..{} (K = {}); portion {portion} does not exist", file.k - 1, file.k));
    }
    Ok(file.assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_disjoint_and_complete() {
        let (t1, v1) = split_train_val(1000, 0.05, 30, 7);
        let (t2, v2) = split_train_val(1000, 0.05, 30, 7);
        assert_eq!((&t1, &v1), (&t2, &v2));
        assert_eq!(v1.len(), 30);
        assert_eq!(t1.len(), 970);
        let mut all: Vec<usize> = t1.iter().chain(&v1).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let (_, v3) = split_train_val(1000, 0.05, 30, 8);
        assert_ne!(v1, v3);
        assert_eq!(split_train_val(10, 0.2, 100, 1).1.len(), 2);
        assert_eq!(split_train_val(1, 0.5, 100, 1), (vec![0], vec![]));
        assert_eq!(split_train_val(0, 0.5, 100, 1), (vec![], vec![]));
    }

    #[test]
    fn row_selection_ranges_and_errors() {
        assert_eq!(parse_row_selection("0-2, 5,4", 10).unwrap(), vec![0, 1, 2, 4, 5]);
        assert_eq!(parse_row_selection("3-3,3", 10).unwrap(), vec![3]);
        let e = parse_row_selection("0-10", 10).unwrap_err().to_string();
        assert!(e.contains("'0-10' selects row 10, out of range") && e.contains("10 rows"), "{e}");
        assert!(parse_row_selection("5-2", 10).unwrap_err().to_string().contains("backwards"));
        assert!(parse_row_selection("a", 10).unwrap_err().to_string().contains("'a' is not a row index"));
        assert!(parse_row_selection(" ", 10).unwrap_err().to_string().contains("selects no rows"));
    }

    #[test]
    fn row_selection_from_a_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rows.txt");
        std::fs::write(&p, "# portion 0\n1\n3-4\n\n99\n").unwrap();
        let e = parse_row_selection(p.to_str().unwrap(), 10).unwrap_err().to_string();
        assert!(e.contains("rows.txt:5: '99' selects row 99, out of range"), "{e}");
        std::fs::write(&p, "1\n3-4 # tail\n").unwrap();
        assert_eq!(parse_row_selection(p.to_str().unwrap(), 10).unwrap(), vec![1, 3, 4]);
    }
}
