//! What the cluster map shows, read off the UI thread: `disperse/clusters.json`, the rows'
//! texts for the hover and the pinned row, and the scatter's index.

use crate::app::widgets::scatter::Scatter;
use crate::engine::cluster::output::{ElbowRow, Portion, ProjectionInfo, Quality, Representative, CLUSTERS_FORMAT};
use crate::engine::cluster::ClustersFile;
use crate::engine::data::{load_dataset, LoadDataOptions};
use crate::engine::hash::SplitMix64;
use crate::engine::report::style::portion_rgb;
use eframe::egui::Color32;
use std::path::Path;

/// One row of the data as the map's panels show it.
#[derive(Debug, Clone, Default)]
pub struct RowText {
    /// The instruction (with the input, if any).
    pub instruction: String,
    /// The response.
    pub response: String,
    /// 1-based line in the data file (0 if unknown).
    pub line: usize,
}

/// A split ready to draw.
pub struct MapData {
    /// The split as written by the cluster stage.
    pub clusters: ClustersFile,
    /// The rows, in data order (the order of `clusters.assignment`).
    pub rows: Vec<RowText>,
    /// The scatter over `clusters.coords_2d`.
    pub scatter: Scatter,
    /// One colour per portion, as in the report.
    pub colors: Vec<Color32>,
}

/// Portion colours, as the report's charts give them.
pub fn portion_colors(k: usize) -> Vec<Color32> {
    (0..k).map(portion_rgb).map(|[r, g, b]| Color32::from_rgb(r, g, b)).collect()
}

impl MapData {
    /// Puts a split and its rows together and indexes the map.
    pub fn new(clusters: ClustersFile, rows: Vec<RowText>) -> Self {
        let groups = clusters.assignment.clone();
        let scatter = Scatter::new(clusters.coords_2d.clone(), groups);
        let colors = portion_colors(clusters.k);
        Self { clusters, rows, scatter, colors }
    }

    /// Reads `clusters.json` and the data file it was made from.
    pub fn load(clusters: &Path, data: &Path, options: &LoadDataOptions) -> Result<Self, String> {
        let file = ClustersFile::load(clusters).map_err(|e| e.to_string())?;
        let dataset = load_dataset(data, options).map_err(|e| e.to_string())?;
        if dataset.examples.len() != file.rows {
            return Err(format!(
                "{} has {} rows but {} was made from {}: run Disperse again",
                data.display(),
                dataset.examples.len(),
                clusters.display(),
                file.rows
            ));
        }
        let rows = dataset
            .examples
            .iter()
            .map(|e| RowText { instruction: e.instruction_text(), response: e.response_text(), line: e.line })
            .collect();
        Ok(Self::new(file, rows))
    }

    /// A made-up split of `n` rows into `k` blobs, for measuring the page (`bench gui`).
    pub fn synthetic(n: usize, k: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut gauss = move || {
            let (u, v) = (rng.next_f32().max(1e-7), rng.next_f32());
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        };
        let centres: Vec<[f32; 2]> = (0..k)
            .map(|p| {
                let a = p as f32 / k as f32 * std::f32::consts::TAU;
                [3.0 * a.cos(), 2.0 * a.sin()]
            })
            .collect();
        let assignment: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
        let coords_2d: Vec<[f32; 2]> =
            assignment.iter().map(|&p| [centres[p as usize][0] + gauss(), centres[p as usize][1] + 0.7 * gauss()]).collect();
        let rows: Vec<RowText> = (0..n)
            .map(|i| RowText {
                instruction: format!("Instruction number {i}: explain topic {} in a few sentences.", i % k),
                response: format!("Answer {i}."),
                line: i + 1,
            })
            .collect();
        let sizes: Vec<usize> = (0..k).map(|p| assignment.iter().filter(|&&a| a as usize == p).count()).collect();
        let portions = (0..k)
            .map(|p| Portion {
                id: p,
                label: None,
                size: sizes[p],
                keywords: Vec::new(),
                representatives: vec![Representative { index: p, row: p, line: p + 1, distance: 0.0, text: rows[p].instruction.clone() }],
                centroid_2d: centres[p],
            })
            .collect();
        let clusters = ClustersFile {
            format: CLUSTERS_FORMAT.into(),
            method: "kmeans".into(),
            k,
            seed,
            by_field: None,
            data_sha256: String::new(),
            encoder: "synthetic".into(),
            field: "instruction".into(),
            rows: n,
            assignment,
            coords_2d,
            projection: ProjectionInfo { method: "synthetic".into(), explained_variance_ratio: [0.5, 0.2] },
            centroids: Vec::new(),
            portions,
            quality: Quality { sizes, inertia: 0.0, silhouette: None, silhouette_rows: 0, iterations: None },
            elbow: Some((2..=8).map(|k| ElbowRow { k, inertia: 1000.0 / k as f64, silhouette: Some(0.1 + 0.01 * k as f64) }).collect()),
        };
        Self::new(clusters, rows)
    }
}
