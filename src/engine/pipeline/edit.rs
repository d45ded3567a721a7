//! Changing one setting of a project file in place: the value is replaced and every comment, blank
//! line and key order the user wrote stays. The edited file is checked as a whole before it
//! replaces the old one, so a bad value is an error naming the line and the file is untouched.
//! `dtm-studio set` and the app's pages both change settings through [`set_setting`].

use super::error::PipelineError;
use super::file::MergeSection;
use super::project::{Project, PROJECT_FILE};
use crate::engine::fsutil::write_atomic;
use std::path::{Path, PathBuf};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

/// The project file of `path` (a `dtm.toml` or the folder holding one).
fn project_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(PROJECT_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Reads `KEY=VALUE` with VALUE as a TOML value (`6`, `0.5`, `true`, `"text"`, `[1, 2]`); a bare
/// word that is not TOML is taken as a string (`disperse.method=balanced`).
pub fn parse_assignment(text: &str) -> Result<(String, Value), PipelineError> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| PipelineError::Stage(format!("'{text}' is not KEY=VALUE (e.g. disperse.k=6 or merge.uniform.weights=[1,1,2])")))?;
    let value = value.trim();
    let parsed = value.parse::<Value>().unwrap_or_else(|_| Value::from(value));
    Ok((key.trim().to_string(), parsed))
}

/// Where a key lives: `section.key` for a plain section, `section.NAME.key` for the `[[section]]`
/// entry whose `name` is NAME (`merge.uniform.weights`, `eval.arc_easy.limit`).
fn target_table<'a>(doc: &'a mut DocumentMut, key: &str) -> Result<(&'a mut Table, String), String> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        [section, field] => {
            let table = doc
                .entry(section)
                .or_insert_with(|| Item::Table(Table::new()))
                .as_table_mut()
                .ok_or_else(|| format!("[{section}] is not a table"))?;
            Ok((table, field.to_string()))
        }
        [section, name, field] => {
            let array = doc
                .get_mut(section)
                .and_then(Item::as_array_of_tables_mut)
                .ok_or_else(|| format!("the file has no [[{section}]] entries"))?;
            let table = array
                .iter_mut()
                .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
                .ok_or_else(|| format!("no [[{section}]] entry has name = \"{name}\""))?;
            Ok((table, field.to_string()))
        }
        _ => Err("a key is SECTION.KEY (disperse.k) or SECTION.NAME.KEY (merge.uniform.weights)".into()),
    }
}

/// Sets `key` to `value` in the project file of `path`, keeping the file's comments and layout,
/// and returns the project as it now reads. When the edited file does not check out (unknown key,
/// wrong type, a value that cannot work), nothing is written and the error names the key's line.
pub fn set_setting(path: &Path, key: &str, value: Value) -> Result<Project, PipelineError> {
    set_settings(path, &[(key.to_string(), value)])
}

/// [`set_setting`] for several keys at once: all are written, or none.
pub fn set_settings(path: &Path, changes: &[(String, Value)]) -> Result<Project, PipelineError> {
    let file = project_file(path);
    let text = std::fs::read_to_string(&file).map_err(|e| PipelineError::io(&file, e))?;
    let mut doc = text.parse::<DocumentMut>().map_err(|e| PipelineError::Toml { file: file.clone(), detail: e.to_string() })?;
    for (key, value) in changes {
        let (table, field) = target_table(&mut doc, key).map_err(|detail| PipelineError::Invalid {
            file: file.clone(),
            line: 0,
            key: key.clone(),
            detail,
        })?;
        match table.get_mut(&field).and_then(Item::as_value_mut) {
            Some(old) => {
                // Keep the comment after the value and the spacing around it.
                let decor = old.decor().clone();
                *old = value.clone();
                *old.decor_mut() = decor;
            }
            None => {
                table.insert(&field, Item::Value(value.clone()));
            }
        }
    }
    write_checked(&file, &doc.to_string())
}

/// Writes `edited` over `file` when it checks out as a project, else leaves the file untouched
/// and returns the error with the line it names.
fn write_checked(file: &Path, edited: &str) -> Result<Project, PipelineError> {
    let trial = file.with_file_name(format!(".{PROJECT_FILE}.edit"));
    write_atomic(&trial, edited.as_bytes()).map_err(|e| PipelineError::io(&trial, e))?;
    let checked = Project::load(&trial);
    let _ = std::fs::remove_file(&trial);
    checked.map_err(|e| match e {
        PipelineError::Invalid { line, key, detail, .. } => PipelineError::Invalid { file: file.to_path_buf(), line, key, detail },
        PipelineError::Toml { detail, .. } => PipelineError::Toml { file: file.to_path_buf(), detail },
        other => other,
    })?;
    write_atomic(file, edited.as_bytes()).map_err(|e| PipelineError::io(file, e))?;
    Project::load(file)
}

/// Appends `merge` as a new `[[merge]]` entry of the project file of `path` (after the last one,
/// or at the end), keeping every comment and setting the user wrote, and returns the project as
/// it now reads. A name already used, or settings the file check refuses, leave the file as it
/// was and the error says why.
pub fn add_merge(path: &Path, merge: &MergeSection) -> Result<Project, PipelineError> {
    let file = project_file(path);
    let text = std::fs::read_to_string(&file).map_err(|e| PipelineError::io(&file, e))?;
    let mut doc = text.parse::<DocumentMut>().map_err(|e| PipelineError::Toml { file: file.clone(), detail: e.to_string() })?;
    let invalid = |detail: String| PipelineError::Invalid { file: file.clone(), line: 0, key: "merge.name".into(), detail };
    let merges = doc.entry("merge").or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    let merges = merges.as_array_of_tables_mut().ok_or_else(|| invalid("`merge` is not a list of [[merge]] entries".into()))?;
    if merges.iter().any(|t| t.get("name").and_then(Item::as_str) == Some(merge.name.as_str())) {
        return Err(invalid(format!("a merge named '{}' exists already; choose another name", merge.name)));
    }
    let mut table = Table::new();
    table.insert("name", toml_edit::value(merge.name.clone()));
    table.insert("method", toml_edit::value(merge.method.clone()));
    if let Some(ws) = &merge.weights {
        table.insert("weights", toml_edit::value(ws.iter().copied().collect::<toml_edit::Array>()));
    }
    if let Some(d) = merge.density {
        table.insert("density", toml_edit::value(d));
    }
    if let Some(l) = merge.lambda {
        table.insert("lambda", toml_edit::value(l));
    }
    if let Some(s) = merge.seed {
        table.insert("seed", toml_edit::value(s as i64));
    }
    if let Some(n) = merge.normalize {
        table.insert("normalize", toml_edit::value(n));
    }
    table.insert("output", toml_edit::value(merge.output.clone()));
    if let Some(r) = merge.rank {
        table.insert("rank", toml_edit::value(r as i64));
    }
    merges.push(table);
    write_checked(&file, &doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pipeline::init::{init_project, InitRequest};

    fn project() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.jsonl");
        let rows: String = (0..6).map(|i| format!("{{\"instruction\": \"q{i}\", \"output\": \"a{i}\"}}\n")).collect();
        std::fs::write(&data, rows).unwrap();
        let model = dir.path().join("model.gguf");
        std::fs::write(&model, b"").unwrap();
        let req = InitRequest {
            dir: dir.path().to_path_buf(),
            model: model.display().to_string(),
            data,
            benchmarks: vec![],
            k: 2,
            preset: "quick".into(),
        };
        init_project(&req).unwrap();
        let file = dir.path().join(PROJECT_FILE);
        (dir, file)
    }

    #[test]
    fn a_setting_changes_and_the_comments_stay() {
        let (_dir, file) = project();
        let before = std::fs::read_to_string(&file).unwrap();
        let comments: Vec<&str> = before.lines().filter(|l| l.trim_start().starts_with('#')).collect();
        let (key, value) = parse_assignment("disperse.k=3").unwrap();
        let project = set_setting(&file, &key, value).unwrap();
        assert_eq!(project.k(), 3);
        let after = std::fs::read_to_string(&file).unwrap();
        let kept: Vec<&str> = after.lines().filter(|l| l.trim_start().starts_with('#')).collect();
        assert_eq!(comments, kept);
        assert_eq!(before.lines().count(), after.lines().count());
        let (key, value) = parse_assignment("disperse.method=balanced").unwrap();
        let project = set_setting(&file, &key, value).unwrap();
        assert_eq!(project.raw.disperse.method, "balanced");
    }

    #[test]
    fn a_bad_value_is_refused_and_the_file_is_untouched() {
        let (_dir, file) = project();
        let before = std::fs::read_to_string(&file).unwrap();
        let err = set_setting(&file, "disperse.k", Value::from(1)).unwrap_err().to_string();
        assert!(err.contains("dtm.toml:") && err.contains("disperse.k"), "{err}");
        let err = set_setting(&file, "disperse.colour", Value::from(1)).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        assert_eq!(before, std::fs::read_to_string(&file).unwrap());
        assert!(parse_assignment("no-equals").is_err());
        assert!(set_setting(&file, "a.b.c.d", Value::from(1)).is_err());
    }

    fn merge_named(name: &str) -> MergeSection {
        MergeSection {
            name: name.into(),
            method: "ties".into(),
            weights: Some(vec![0.7, 0.3]),
            density: Some(0.4),
            lambda: Some(1.5),
            seed: Some(3),
            normalize: None,
            output: "full".into(),
            rank: None,
        }
    }

    #[test]
    fn a_merge_is_appended_and_the_comments_stay() {
        let (_dir, file) = project();
        let before = std::fs::read_to_string(&file).unwrap();
        let project = add_merge(&file, &merge_named("tilted")).unwrap();
        let after = std::fs::read_to_string(&file).unwrap();
        assert!(after.starts_with(&before[..before.find("[[merge]]").unwrap()]), "the text before the merges is unchanged");
        let comments = |t: &str| t.lines().filter(|l| l.contains('#')).map(str::to_string).collect::<Vec<_>>();
        assert_eq!(comments(&before), comments(&after));
        let plan = project.merges.iter().find(|m| m.name == "tilted").expect("the new merge is read back");
        assert_eq!(plan.spec.method, crate::engine::merge::MergeMethod::Ties);
        assert_eq!(plan.spec.weight_values(2), vec![vec![0.7], vec![0.3]]);
        assert_eq!((plan.spec.density_of(0), plan.spec.lambda, plan.spec.seed), (0.4, 1.5, 3));
        assert_eq!(project.merges.len(), 2, "the merge the file had stays");
        let err = add_merge(&file, &merge_named("tilted")).unwrap_err().to_string();
        assert!(err.contains("exists already"), "{err}");
        let mut bad = merge_named("three");
        bad.weights = Some(vec![1.0, 1.0, 1.0]);
        let err = add_merge(&file, &bad).unwrap_err().to_string();
        assert!(err.contains("weights"), "{err}");
        assert_eq!(after, std::fs::read_to_string(&file).unwrap(), "refused merges leave the file as it was");
    }
}
