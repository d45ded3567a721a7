//! The source text of records as they stand in the file, for showing a record that was skipped
//! (malformed, empty or a dropped duplicate) where no [`Example`](super::Example) holds it.

use super::error::DataError;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// How much of a record an excerpt keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExcerptLimits {
    /// Lines kept from the record's first line.
    pub max_lines: usize,
    /// Characters kept in all; longer excerpts end with "…".
    pub max_chars: usize,
}

impl Default for ExcerptLimits {
    fn default() -> Self {
        Self { max_lines: 40, max_chars: 4000 }
    }
}

/// The text of the records starting at the 1-based lines `wanted`, keyed by line. A record runs
/// from its line up to (not including) the next line in `starts` (every record start known: a
/// JSON array's records span several lines), or `limits.max_lines` lines at most. Line 0 (a
/// Parquet row) has no text and is left out; so are lines past the end of the file. The file is
/// read only up to the last line needed.
pub fn record_excerpts(
    path: &Path,
    starts: &[usize],
    wanted: &[usize],
    limits: ExcerptLimits,
) -> Result<BTreeMap<usize, String>, DataError> {
    let mut wanted: Vec<usize> = wanted.iter().copied().filter(|&l| l > 0).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut starts: Vec<usize> = starts.iter().chain(&wanted).copied().collect();
    starts.sort_unstable();
    starts.dedup();
    // The line range [from, to) of each wanted record.
    let ranges: Vec<(usize, usize)> = wanted
        .iter()
        .map(|&from| {
            let next = starts.iter().copied().find(|&s| s > from).unwrap_or(usize::MAX);
            (from, next.min(from.saturating_add(limits.max_lines.max(1))))
        })
        .collect();
    let Some(last) = ranges.iter().map(|r| r.1).max() else { return Ok(BTreeMap::new()) };
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut out: BTreeMap<usize, String> = BTreeMap::new();
    let mut buf = Vec::new();
    let mut line = 0;
    while line + 1 < last {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        line += 1;
        let mut text = None;
        for &(from, to) in ranges.iter().filter(|(from, to)| (*from..*to).contains(&line)) {
            let kept = out.entry(from).or_default();
            if kept.chars().count() >= limits.max_chars {
                continue;
            }
            let text = text.get_or_insert_with(|| String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string());
            if line > from {
                kept.push('\n');
            }
            kept.push_str(text);
            if line + 1 == to && kept.chars().count() > limits.max_chars {
                cut(kept, limits.max_chars);
            }
        }
    }
    for text in out.values_mut() {
        if text.chars().count() > limits.max_chars {
            cut(text, limits.max_chars);
        }
    }
    Ok(out)
}

/// Cuts `text` to `max_chars` characters and marks the cut.
fn cut(text: &mut String, max_chars: usize) {
    if let Some((at, _)) = text.char_indices().nth(max_chars) {
        text.truncate(at);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_record_runs_to_the_next_record_start() {
        let (_d, path) = file("[\n  {\"a\": 1,\n   \"b\": 2},\n  {\"a\": oops,\n   \"b\": 3},\n  {\"a\": 4}\n]\n");
        let got = record_excerpts(&path, &[2, 4, 6], &[4], ExcerptLimits::default()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[&4], "  {\"a\": oops,\n   \"b\": 3},");
    }

    #[test]
    fn jsonl_lines_are_one_line_each_and_limits_hold() {
        let (_d, path) = file("{\"x\": 1}\r\nnot json\n{\"x\": 3}\n");
        let got = record_excerpts(&path, &[1, 2, 3], &[2, 3, 0, 99], ExcerptLimits::default()).unwrap();
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![2, 3], "line 0 and lines past the end are left out");
        assert_eq!(got[&2], "not json");
        // Without known starts, a record is cut at max_lines, and long text at max_chars.
        let got = record_excerpts(&path, &[], &[1], ExcerptLimits { max_lines: 2, max_chars: 12 }).unwrap();
        assert_eq!(got[&1], "{\"x\": 1}\nnot…");
    }
}
