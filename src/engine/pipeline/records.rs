//! What the run directory remembers between runs, under `.dtm/`: a record per finished or failed
//! stage (its stamp, time and key figure), the hashes of big input files (reused while their size
//! and modification time are unchanged), and the lock that keeps two processes apart.

use super::error::PipelineError;
use super::plan::{FileHasher, PlannedStage, StageId};
use crate::engine::fsutil::write_atomic;
use crate::engine::job::CancelToken;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a stage ended last time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Its outputs were written.
    Done,
    /// It failed; `message` says why.
    Failed,
}

/// `.dtm/stages/<stage>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage.
    pub stage: String,
    /// The stamp it ran with.
    pub stamp: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Its key figure (validation loss, accuracy, merge error, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figure: Option<String>,
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageState {
    /// Finished with the current settings and inputs; its outputs exist.
    Done,
    /// Finished once, but a setting or an input changed since (or an output is gone).
    Stale,
    /// Never finished.
    Pending,
    /// Failed with the current settings.
    Failed,
    /// A live process is running it now.
    Running,
}

fn running_path(project_dir: &Path, id: &StageId) -> PathBuf {
    state_dir(project_dir).join("running").join(id.file_name())
}

/// Marks a stage as running in this process until the marker is dropped.
pub struct RunningMarker {
    path: PathBuf,
}

impl RunningMarker {
    /// Writes `.dtm/running/<stage>` naming this process.
    pub fn new(project_dir: &Path, id: &StageId) -> Self {
        let path = running_path(project_dir, id);
        let _ = write_atomic(&path, format!("pid {} on {}", std::process::id(), hostname()).as_bytes());
        Self { path }
    }
}

impl Drop for RunningMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a live process (on this host) is running the stage.
pub fn is_running(project_dir: &Path, id: &StageId) -> bool {
    std::fs::read_to_string(running_path(project_dir, id)).is_ok_and(|holder| !holder_is_gone(&holder, &hostname()))
}

/// The `.dtm` folder of a project.
pub fn state_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".dtm")
}

fn record_path(project_dir: &Path, id: &StageId) -> PathBuf {
    state_dir(project_dir).join("stages").join(format!("{}.json", id.file_name()))
}

/// The last record of a stage, if any (an unreadable record counts as none).
pub fn read_record(project_dir: &Path, id: &StageId) -> Option<StageRecord> {
    let text = std::fs::read_to_string(record_path(project_dir, id)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes a stage's record atomically.
pub fn write_record(project_dir: &Path, id: &StageId, record: &StageRecord) -> Result<(), PipelineError> {
    let path = record_path(project_dir, id);
    let text = serde_json::to_vec_pretty(record).map_err(|e| PipelineError::Stage(e.to_string()))?;
    write_atomic(&path, &text).map_err(|e| PipelineError::io(&path, e))
}

/// Where `stage` stands given its last record.
pub fn state_of(project_dir: &Path, stage: &PlannedStage) -> StageState {
    match read_record(project_dir, &stage.id) {
        None => StageState::Pending,
        Some(r) if r.stamp != stage.stamp => StageState::Stale,
        Some(r) if r.outcome == Outcome::Failed => StageState::Failed,
        Some(_) if stage.outputs.iter().all(|p| p.exists()) => StageState::Done,
        Some(_) => StageState::Stale,
    }
}

/// Removes what a killed process left half-written in the run directory: the hidden temporary
/// files and folders that atomic writes rename into place (`.NAME.tmp-PID`, `.NAME.partial-PID`,
/// `.checkpoint.tmp`). Called under the project lock, when no other writer runs.
pub fn remove_leftovers(project_dir: &Path) {
    fn visit(dir: &Path, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            let leftover = name.starts_with('.') && (name.contains(".tmp") || name.contains(".partial-"));
            let is_dir = path.is_dir();
            if leftover {
                let _ = if is_dir { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            } else if is_dir && depth > 0 && name != ".dtm" {
                visit(&path, depth - 1);
            }
        }
    }
    for sub in ["data", "disperse", "train", "merge", "eval", "report"] {
        visit(&project_dir.join(sub), 2);
    }
    visit(&state_dir(project_dir), 1);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileHash {
    size: u64,
    modified_ns: u128,
    sha256: String,
}

/// SHA-256 of input files, cached in `.dtm/file_hashes.json` by path, size and modification time.
pub struct FileHashCache {
    path: PathBuf,
    entries: BTreeMap<String, FileHash>,
    changed: bool,
    cancel: CancelToken,
}

impl FileHashCache {
    /// The cache of a project (empty when absent or unreadable).
    pub fn open(project_dir: &Path, cancel: &CancelToken) -> Self {
        let path = state_dir(project_dir).join("file_hashes.json");
        let entries = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        Self { path, entries, changed: false, cancel: cancel.clone() }
    }

    /// Writes the cache back if it learnt a hash.
    pub fn save(&self) -> Result<(), PipelineError> {
        if !self.changed {
            return Ok(());
        }
        let text = serde_json::to_vec_pretty(&self.entries).map_err(|e| PipelineError::Stage(e.to_string()))?;
        write_atomic(&self.path, &text).map_err(|e| PipelineError::io(&self.path, e))
    }
}

/// Size and modification time of a file, or summed over a folder's files.
fn fingerprint(path: &Path) -> Result<(u64, u128), PipelineError> {
    let one = |p: &Path| -> Result<(u64, u128), PipelineError> {
        let m = std::fs::metadata(p).map_err(|e| PipelineError::io(p, e))?;
        let t = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
        Ok((m.len(), t))
    };
    if !path.is_dir() {
        return one(path);
    }
    let mut acc = (0u64, 0u128);
    for entry in std::fs::read_dir(path).map_err(|e| PipelineError::io(path, e))? {
        let p = entry.map_err(|e| PipelineError::io(path, e))?.path();
        if p.is_file() {
            let (s, t) = one(&p)?;
            acc = (acc.0 + s, acc.1.max(t));
        }
    }
    Ok(acc)
}

impl FileHasher for FileHashCache {
    fn hash(&mut self, path: &Path) -> Result<String, PipelineError> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).to_string_lossy().into_owned();
        let (size, modified_ns) = fingerprint(path)?;
        if let Some(h) = self.entries.get(&key).filter(|h| h.size == size && h.modified_ns == modified_ns) {
            return Ok(h.sha256.clone());
        }
        let sha256 = crate::engine::hash::sha256_path(path, &self.cancel).map_err(|e| match e {
            crate::engine::hash::HashError::Io { path, source } => PipelineError::Io { path, source },
            crate::engine::hash::HashError::Cancelled(c) => PipelineError::Cancelled(c),
        })?;
        self.entries.insert(key, FileHash { size, modified_ns, sha256: sha256.clone() });
        self.changed = true;
        Ok(sha256)
    }
}

/// The project lock: `.dtm/lock` names the process that runs the project; dropped, it is removed.
pub struct ProjectLock {
    path: PathBuf,
}

impl ProjectLock {
    /// Takes the lock of the whole project (`scope` empty) or of the stages a run is limited to
    /// (`scope` = its patterns, so that Slurm array tasks training different runs never collide),
    /// or says who holds it. A lock left by a process that no longer runs (on this host) is taken
    /// over.
    pub fn acquire(project_dir: &Path, scope: &[String]) -> Result<Self, PipelineError> {
        let name = if scope.is_empty() {
            "lock".to_string()
        } else {
            let joined: String =
                scope.join("+").chars().map(|c| if c.is_ascii_alphanumeric() || "-_+".contains(c) { c } else { '_' }).collect();
            format!("lock-{joined}")
        };
        let path = state_dir(project_dir).join(name);
        std::fs::create_dir_all(state_dir(project_dir)).map_err(|e| PipelineError::io(state_dir(project_dir), e))?;
        let host = hostname();
        let me = format!("pid {} on {host}", std::process::id());
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(me.as_bytes()).map_err(|e| PipelineError::io(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    if holder_is_gone(&holder, &host) {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    return Err(PipelineError::Locked {
                        path,
                        detail: format!(
                            "this project is being run by {holder}; wait for it, or delete the lock file if that process is gone"
                        ),
                    });
                }
                Err(e) => return Err(PipelineError::io(&path, e)),
            }
        }
        Err(PipelineError::Locked { path, detail: "could not take the lock".into() })
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}

/// Whether a lock written as "pid N on HOST" belongs to a process that no longer runs here.
fn holder_is_gone(holder: &str, host: &str) -> bool {
    let mut words = holder.split_whitespace();
    let (Some("pid"), Some(pid), Some("on"), Some(h)) = (words.next(), words.next(), words.next(), words.next()) else { return true };
    h == host && !Path::new("/proc").join(pid).exists() && Path::new("/proc/self").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_a_dead_holder_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let lock = ProjectLock::acquire(dir.path(), &[]).unwrap();
        let err = ProjectLock::acquire(dir.path(), &[]).err().unwrap().to_string();
        let train = ProjectLock::acquire(dir.path(), &["train:sub-0".to_string()]).unwrap();
        assert!(ProjectLock::acquire(dir.path(), &["train:sub-1".to_string()]).is_ok());
        assert!(ProjectLock::acquire(dir.path(), &["train:sub-0".to_string()]).is_err());
        drop(train);
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(lock);
        std::fs::write(state_dir(dir.path()).join("lock"), format!("pid 999999999 on {}", hostname())).unwrap();
        assert!(ProjectLock::acquire(dir.path(), &[]).is_ok());
    }

    #[test]
    fn a_running_marker_counts_only_while_its_process_lives() {
        let dir = tempfile::tempdir().unwrap();
        let id = StageId::Train("sub-0".into());
        let marker = RunningMarker::new(dir.path(), &id);
        assert!(is_running(dir.path(), &id));
        drop(marker);
        assert!(!is_running(dir.path(), &id));
        write_atomic(&running_path(dir.path(), &id), format!("pid 999999999 on {}", hostname()).as_bytes()).unwrap();
        assert!(!is_running(dir.path(), &id), "a killed run's marker is ignored");
    }

    #[test]
    fn file_hashes_are_reused_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("data.json");
        std::fs::write(&f, b"abc").unwrap();
        let mut cache = FileHashCache::open(dir.path(), &CancelToken::new());
        let h = cache.hash(&f).unwrap();
        cache.save().unwrap();
        let mut again = FileHashCache::open(dir.path(), &CancelToken::new());
        assert_eq!(again.hash(&f).unwrap(), h);
        assert!(!again.changed);
        std::fs::write(&f, b"abcd").unwrap();
        assert_ne!(again.hash(&f).unwrap(), h);
    }
}
