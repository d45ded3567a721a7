//! `clusters.json`: the per-row assignment, centroids, 2-D coordinates, keywords, representative
//! rows and quality figures of one split. Written atomically.

use super::error::ClusterError;
use super::keywords::Keyword;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The format tag of the file.
pub const CLUSTERS_FORMAT: &str = "dtm-studio/clusters@1";

/// A row shown as an example of its portion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Representative {
    /// Position in the data (the index into `assignment`).
    pub index: usize,
    /// The record's 0-based place in the file.
    pub row: usize,
    /// The 1-based line where the record starts (0 if unknown).
    pub line: usize,
    /// Euclidean distance to the portion's centroid.
    pub distance: f32,
    /// The embedded text, cut to 200 characters.
    pub text: String,
}

/// One portion of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Portion {
    /// Portion number (the value in `assignment`).
    pub id: usize,
    /// The column value it stands for (method `field` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Rows in it.
    pub size: usize,
    /// Top keywords by c-TF-IDF.
    pub keywords: Vec<Keyword>,
    /// Rows nearest the centroid, nearest first.
    pub representatives: Vec<Representative>,
    /// The centroid on the 2-D map.
    pub centroid_2d: [f32; 2],
}

/// Quality figures of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Rows per portion.
    pub sizes: Vec<usize>,
    /// Sum of squared distances of rows to their portion's centroid.
    pub inertia: f64,
    /// Mean silhouette on a sample (`None` with a single portion).
    pub silhouette: Option<f64>,
    /// Rows the silhouette was computed on.
    pub silhouette_rows: usize,
    /// Lloyd iterations (k-means only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
}

/// One line of the elbow table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElbowRow {
    /// Number of portions.
    pub k: usize,
    /// k-means inertia.
    pub inertia: f64,
    /// Silhouette on the sample.
    pub silhouette: Option<f64>,
}

/// The 2-D map's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectionInfo {
    /// "pca-exact" or "pca-randomized".
    pub method: String,
    /// Share of the total variance along each axis.
    pub explained_variance_ratio: [f64; 2],
}

/// Everything `dtm-studio cluster` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClustersFile {
    /// Always [`CLUSTERS_FORMAT`].
    pub format: String,
    /// "kmeans", "balanced", "random" or "field".
    pub method: String,
    /// Number of portions.
    pub k: usize,
    /// Seed of the split.
    pub seed: u64,
    /// The column split on (method `field` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_field: Option<String>,
    /// SHA-256 of the data file.
    pub data_sha256: String,
    /// The encoder of the embeddings.
    pub encoder: String,
    /// The text field embedded.
    pub field: String,
    /// Number of rows.
    pub rows: usize,
    /// Portion of each row, in data order.
    pub assignment: Vec<u32>,
    /// `[x, y]` of each row on the 2-D map.
    pub coords_2d: Vec<[f32; 2]>,
    /// How the map was made.
    pub projection: ProjectionInfo,
    /// Centroids in embedding space, one per portion.
    pub centroids: Vec<Vec<f32>>,
    /// Per-portion descriptions.
    pub portions: Vec<Portion>,
    /// Quality figures.
    pub quality: Quality,
    /// Inertia and silhouette for K = 2..8, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elbow: Option<Vec<ElbowRow>>,
}

impl ClustersFile {
    /// Writes the file atomically (temporary name, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ClusterError> {
        let text = serde_json::to_vec(self).map_err(|e| ClusterError::File { path: path.to_path_buf(), detail: e.to_string() })?;
        crate::engine::fsutil::write_atomic(path, &text).map_err(|source| ClusterError::Io { path: path.to_path_buf(), source })
    }

    /// Reads a file written by [`ClustersFile::save`], checking that its arrays agree.
    pub fn load(path: &Path) -> Result<Self, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Io { path: path.to_path_buf(), source })?;
        let bad = |detail: String| ClusterError::File { path: path.to_path_buf(), detail };
        let file: Self = serde_json::from_str(&text).map_err(|e| bad(format!("not a clusters file (line {}): {e}", e.line())))?;
        if file.format != CLUSTERS_FORMAT {
            return Err(bad(format!("format '{}', expected '{CLUSTERS_FORMAT}'", file.format)));
        }
        if file.assignment.len() != file.rows || file.coords_2d.len() != file.rows {
            return Err(bad(format!(
                "{} rows but {} assignments and {} coordinates",
                file.rows,
                file.assignment.len(),
                file.coords_2d.len()
            )));
        }
        if let Some(bad_label) = file.assignment.iter().find(|&&a| a as usize >= file.k) {
            return Err(bad(format!("assignment {bad_label} is not below K = {}", file.k)));
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ClustersFile {
        ClustersFile {
            format: CLUSTERS_FORMAT.into(),
            method: "random".into(),
            k: 2,
            seed: 0,
            by_field: None,
            data_sha256: "abc".into(),
            encoder: "builtin".into(),
            field: "instruction".into(),
            rows: 2,
            assignment: vec![0, 1],
            coords_2d: vec![[0.0, 1.0], [1.0, 0.0]],
            projection: ProjectionInfo { method: "pca-exact".into(), explained_variance_ratio: [0.5, 0.5] },
            centroids: vec![vec![1.0], vec![2.0]],
            portions: Vec::new(),
            quality: Quality { sizes: vec![1, 1], inertia: 0.0, silhouette: None, silhouette_rows: 2, iterations: None },
            elbow: None,
        }
    }

    #[test]
    fn save_load_round_trip_and_inconsistent_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        tiny().save(&p).unwrap();
        assert_eq!(ClustersFile::load(&p).unwrap(), tiny());
        let mut bad = tiny();
        bad.assignment = vec![0, 2];
        bad.save(&p).unwrap();
        let msg = ClustersFile::load(&p).unwrap_err().to_string();
        assert!(msg.contains("c.json") && msg.contains("not below K = 2"), "{msg}");
        let mut short = tiny();
        short.coords_2d.pop();
        short.save(&p).unwrap();
        assert!(ClustersFile::load(&p).unwrap_err().to_string().contains("1 coordinates"));
        std::fs::write(&p, "{}").unwrap();
        assert!(ClustersFile::load(&p).unwrap_err().to_string().contains("not a clusters file"));
    }
}
