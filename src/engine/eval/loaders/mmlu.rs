//! MMLU in Hendrycks' CSV layout: one headerless file per subject and split
//! (`<subject>_dev.csv`, `<subject>_val.csv`, `<subject>_test.csv`), columns
//! question,A,B,C,D,answer-letter. The dev split provides the few-shot examples.

use super::source::csv_records;
use crate::engine::eval::error::{EvalError, Result};
use crate::engine::eval::task::{McItem, SkippedRow};
use std::path::{Path, PathBuf};

/// Expected format, for messages.
pub const MMLU_FORMAT: &str = "MMLU CSV folder: headerless <subject>_dev.csv / _val.csv / _test.csv files with columns question,A,B,C,D,answer-letter (a folder holding dev/ and val/ or test/, or one split's folder)";

const SPLITS: [&str; 3] = ["test", "val", "dev"];

/// The split files to evaluate and the dev files for few-shot examples.
#[derive(Debug, Clone, PartialEq)]
pub struct MmluFiles {
    /// Split evaluated ("test", "val" or "dev").
    pub split: String,
    /// `(subject, file)` of the evaluated split, sorted by subject.
    pub eval: Vec<(String, PathBuf)>,
    /// `(subject, file)` of the dev split (few-shot pool).
    pub dev: Vec<(String, PathBuf)>,
}

fn split_files(dir: &Path, split: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| EvalError::io(dir, e))?;
    let suffix = format!("_{split}.csv");
    for entry in entries {
        let p = entry.map_err(|e| EvalError::io(dir, e))?.path();
        if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            if let Some(subject) = name.strip_suffix(&suffix) {
                out.push((subject.to_string(), p.clone()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Finds the files: `path` may be the MMLU root (with `test/`, `val/`, `dev/`), or one split's
/// folder (its sibling `dev/` supplies the few-shot examples). The test split is preferred, then val.
pub fn find_files(path: &Path) -> Result<MmluFiles> {
    if !path.is_dir() {
        return Err(EvalError::WrongFormat { path: path.to_path_buf(), expected: MMLU_FORMAT.into(), detail: "not a folder".into() });
    }
    for split in SPLITS {
        let here = split_files(path, split)?;
        if !here.is_empty() {
            let dev_dir = path.parent().map(|p| p.join("dev")).filter(|d| d.is_dir());
            let dev = match dev_dir {
                Some(d) => split_files(&d, "dev")?,
                None => split_files(path, "dev")?,
            };
            return Ok(MmluFiles { split: split.into(), eval: here, dev });
        }
    }
    for split in SPLITS {
        let sub = path.join(split);
        if sub.is_dir() {
            let eval = split_files(&sub, split)?;
            if !eval.is_empty() {
                let dev_dir = path.join("dev");
                let dev = if dev_dir.is_dir() { split_files(&dev_dir, "dev")? } else { Vec::new() };
                return Ok(MmluFiles { split: split.into(), eval, dev });
            }
        }
    }
    Err(EvalError::WrongFormat {
        path: path.to_path_buf(),
        expected: MMLU_FORMAT.into(),
        detail: "no <subject>_test.csv, _val.csv or _dev.csv files found here or in test/, val/, dev/".into(),
    })
}

/// lm-eval's MMLU question block: `"{question}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:"`.
pub fn mmlu_query(question: &str, options: &[String]) -> String {
    let mut q = question.trim().to_string();
    for (i, o) in options.iter().enumerate() {
        q.push_str(&format!("\n{}. {}", (b'A' + i as u8) as char, o));
    }
    q.push_str("\nAnswer:");
    q
}

/// Reads one subject file.
pub fn load_subject(subject: &str, path: &Path, skipped: &mut Vec<SkippedRow>) -> Result<Vec<McItem>> {
    let records = csv_records(path)?;
    let mut items = Vec::new();
    let mut bad_shape = 0usize;
    for (line, fields) in &records {
        let mut skip = |reason: String| skipped.push(SkippedRow { path: path.to_path_buf(), line: *line, reason });
        if fields.len() != 6 {
            bad_shape += 1;
            skip(format!("has {} columns; MMLU rows have 6 (question,A,B,C,D,answer)", fields.len()));
            continue;
        }
        let answer = fields[5].trim();
        let gold = match answer {
            "A" => 0,
            "B" => 1,
            "C" => 2,
            "D" => 3,
            "" => {
                skip("no gold answer: the answer column is empty".into());
                continue;
            }
            other => {
                skip(format!("answer '{other}' should be one of A, B, C, D"));
                continue;
            }
        };
        let options: Vec<String> = fields[1..5].to_vec();
        items.push(McItem {
            id: format!("{subject}-{line}"),
            line: *line,
            query: mmlu_query(&fields[0], &options),
            choices: vec!["A".into(), "B".into(), "C".into(), "D".into()],
            delimiter: " ".into(),
            gold,
            group: Some(subject.to_string()),
        });
    }
    if items.is_empty() && bad_shape > 0 && bad_shape == records.len() {
        return Err(EvalError::WrongFormat {
            path: path.to_path_buf(),
            expected: MMLU_FORMAT.into(),
            detail: format!(
                "no row has the 6 columns question,A,B,C,D,answer (line 1 has {})",
                records.first().map(|r| r.1.len()).unwrap_or(0)
            ),
        });
    }
    Ok(items)
}

/// Evaluated items, dev items (few-shot pool), skipped rows and the evaluated split's name.
pub type MmluData = (Vec<McItem>, Vec<McItem>, Vec<SkippedRow>, String);

/// Reads every subject of the evaluated split and of the dev split.
pub fn load_mmlu(path: &Path) -> Result<MmluData> {
    let files = find_files(path)?;
    let mut skipped = Vec::new();
    let mut items = Vec::new();
    for (subject, file) in &files.eval {
        items.extend(load_subject(subject, file, &mut skipped)?);
    }
    let mut dev = Vec::new();
    if files.split != "dev" {
        let mut dev_skipped = Vec::new();
        for (subject, file) in &files.dev {
            dev.extend(load_subject(subject, file, &mut dev_skipped)?);
        }
        skipped.extend(dev_skipped);
    }
    Ok((items, dev, skipped, files.split))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_matches_lm_eval() {
        let q = mmlu_query(" What is 2+2? ", &["1".into(), "2".into(), "3".into(), "4".into()]);
        assert_eq!(q, "What is 2+2?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:");
    }

    #[test]
    fn subjects_come_from_file_names_and_dev_is_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        for split in ["dev", "val"] {
            std::fs::create_dir(dir.path().join(split)).unwrap();
        }
        std::fs::write(dir.path().join("dev/high_school_physics_dev.csv"), "Q0,a,b,c,d,A\n").unwrap();
        std::fs::write(dir.path().join("val/high_school_physics_val.csv"), "Q1,a,b,c,d,B\n\"Q2, long\",a,b,c,d,\nQ3,a,b,c\n").unwrap();
        let (items, dev, skipped, split) = load_mmlu(dir.path()).unwrap();
        assert_eq!(split, "val");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].group.as_deref(), Some("high_school_physics"));
        assert_eq!(items[0].gold, 1);
        assert_eq!(dev.len(), 1);
        assert_eq!(skipped.len(), 2);
        assert!(skipped[0].reason.contains("no gold answer") && skipped[0].line == 2, "{:?}", skipped);
        assert!(skipped[1].reason.contains("4 columns") && skipped[1].line == 3);
    }
}
