//! Changing one setting of a project file in place: the value is replaced and every comment, blank
//! line and key order the user wrote stays. The edited file is checked as a whole before it
//! replaces the old one, so a bad value is an error naming the line and the file is untouched.
//! `dtm-studio set` and the app's pages both change settings through [`set_setting`].

use super::error::PipelineError;
use super::project::{Project, PROJECT_FILE};
use crate::engine::fsutil::write_atomic;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table, Value};

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
    let edited = doc.to_string();
    let trial = file.with_file_name(format!(".{PROJECT_FILE}.edit"));
    write_atomic(&trial, edited.as_bytes()).map_err(|e| PipelineError::io(&trial, e))?;
    let checked = Project::load(&trial);
    let _ = std::fs::remove_file(&trial);
    checked.map_err(|e| match e {
        PipelineError::Invalid { line, key, detail, .. } => PipelineError::Invalid { file: file.clone(), line, key, detail },
        PipelineError::Toml { detail, .. } => PipelineError::Toml { file: file.clone(), detail },
        other => other,
    })?;
    write_atomic(&file, edited.as_bytes()).map_err(|e| PipelineError::io(&file, e))?;
    Project::load(&file)
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
}
