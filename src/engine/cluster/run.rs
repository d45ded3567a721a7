//! The Disperse stage: split embedded rows into K portions by the chosen method, then describe the
//! split (sizes, inertia, silhouette, 2-D map, keywords, representative rows, optional elbow
//! table) as a [`ClustersFile`].

use super::balanced::{balanced_kmeans, random_split, split_by_values};
use super::error::ClusterError;
use super::keywords::{class_tfidf_keywords, nearest_to_centroids};
use super::kmeans::{check_k, kmeans, KMeansOptions};
use super::output::{ClustersFile, ElbowRow, Portion, ProjectionInfo, Quality, Representative, CLUSTERS_FORMAT};
use super::pca::project_2d;
use super::quality::{centroids, inertia, silhouette, sizes, SILHOUETTE_SAMPLE_ROWS};
use crate::engine::data::Example;
use crate::engine::embed::Embeddings;
use crate::engine::job::{CancelToken, EventSink, StageScope};
use std::fmt;
use std::str::FromStr;

/// How rows are split into portions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterMethod {
    /// k-means on L2-normalised embeddings (cosine geometry).
    #[default]
    KMeans,
    /// k-means with equal-size portions.
    Balanced,
    /// A seeded random split (the paper found it as good as k-means).
    Random,
    /// One portion per value of an existing column.
    Field,
}

impl ClusterMethod {
    /// The name used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KMeans => "kmeans",
            Self::Balanced => "balanced",
            Self::Random => "random",
            Self::Field => "field",
        }
    }
}

impl FromStr for ClusterMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kmeans" | "k-means" => Ok(Self::KMeans),
            "balanced" => Ok(Self::Balanced),
            "random" => Ok(Self::Random),
            "field" => Ok(Self::Field),
            _ => Err(format!("unknown method '{s}': use kmeans, balanced, random or field")),
        }
    }
}

impl fmt::Display for ClusterMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings of the Disperse stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// The split method.
    pub method: ClusterMethod,
    /// Number of portions (ignored by `Field`, which makes one per value).
    pub k: usize,
    /// Seed of k-means seeding, the random split and the samples.
    pub seed: u64,
    /// k-means restarts.
    pub n_init: usize,
    /// Most k-means iterations.
    pub max_iter: usize,
    /// Also compute the elbow table over K = 2..8.
    pub elbow: bool,
    /// Rows sampled for the silhouette.
    pub silhouette_rows: usize,
    /// Keywords per portion.
    pub keywords: usize,
    /// Representative rows per portion.
    pub representatives: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            method: ClusterMethod::KMeans,
            k: 4,
            seed: 0,
            n_init: 3,
            max_iter: 300,
            elbow: false,
            silhouette_rows: SILHOUETTE_SAMPLE_ROWS,
            keywords: 8,
            representatives: 5,
        }
    }
}

/// What the stage works on: embeddings of the rows, their texts (for keywords and previews),
/// where each row is in the file, and for `Field` the column value of each row.
pub struct ClusterInput<'a> {
    /// One embedding per row.
    pub embeddings: &'a Embeddings,
    /// The embedded text of each row.
    pub texts: &'a [String],
    /// `(row in file, line)` of each row.
    pub places: &'a [(usize, usize)],
    /// `(column name, value per row)` for the `Field` method.
    pub field_values: Option<(&'a str, &'a [String])>,
}

/// The value of column `name` for every example, failing on the first row that lacks it.
pub fn field_values(examples: &[Example], name: &str) -> Result<Vec<String>, ClusterError> {
    examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.fields.get(name).cloned().ok_or_else(|| ClusterError::MissingField {
                field: name.to_string(),
                row: i,
                line: e.line,
                found: if e.fields.is_empty() { "none".into() } else { e.fields.keys().cloned().collect::<Vec<_>>().join(", ") },
            })
        })
        .collect()
}

/// L2-normalised copy of the rows (zero rows stay zero), or `None` when already normalised.
fn normalised(emb: &Embeddings) -> Option<Vec<f32>> {
    if emb.normalized {
        return None;
    }
    let mut v = emb.values.clone();
    for r in v.chunks_mut(emb.dim.max(1)) {
        let n = r.iter().map(|a| a * a).sum::<f32>().sqrt();
        if n > 0.0 {
            r.iter_mut().for_each(|a| *a /= n);
        }
    }
    Some(v)
}

/// Splits the rows and describes the split, reporting through the stage `scope` it runs in.
pub fn disperse(input: &ClusterInput, opts: &ClusterOptions, scope: &StageScope<'_>) -> Result<ClustersFile, ClusterError> {
    let (sink, cancel) = (scope.sink, scope.cancel);
    let emb = input.embeddings;
    let (n, dim) = (emb.rows, emb.dim);
    if input.texts.len() != n || input.places.len() != n {
        return Err(ClusterError::Mismatch {
            detail: format!(
                "the embeddings have {n} rows but the data has {} examples; embed this data again (`dtm-studio embed`)",
                input.texts.len()
            ),
        });
    }
    let own = normalised(emb);
    let x: &[f32] = own.as_deref().unwrap_or(&emb.values);
    let kopts = KMeansOptions { k: opts.k, seed: opts.seed, n_init: opts.n_init, max_iter: opts.max_iter, tol: 1e-4 };
    const STEPS: u64 = 5;
    scope.progress(0, STEPS, format!("{} into K = {}", opts.method, opts.k));
    let mut labels_names = None;
    let mut iterations = None;
    let (labels, k, cents) = match opts.method {
        ClusterMethod::KMeans => {
            let fit = kmeans(x, dim, &kopts, sink, cancel)?;
            iterations = Some(fit.iterations);
            (fit.labels, opts.k, fit.centroids)
        }
        ClusterMethod::Balanced => {
            let (labels, c) = balanced_kmeans(x, dim, &kopts, sink, cancel)?;
            (labels, opts.k, c)
        }
        ClusterMethod::Random => {
            let labels = random_split(n, opts.k, opts.seed)?;
            let c = centroids(x, dim, &labels, opts.k);
            (labels, opts.k, c)
        }
        ClusterMethod::Field => {
            let (name, values) = input
                .field_values
                .ok_or_else(|| ClusterError::Invalid("the method `field` needs the column to split by (setting `by`)".into()))?;
            let (labels, names) = split_by_values(values)?;
            if names.len() > 256 {
                return Err(ClusterError::Invalid(format!(
                    "column '{name}' has {} distinct values; a split by field needs a label column with few values (a source or category)",
                    names.len()
                )));
            }
            let k = names.len();
            labels_names = Some((name.to_string(), names));
            let c = centroids(x, dim, &labels, k);
            (labels, k, c)
        }
    };
    scope.check()?;
    scope.progress(1, STEPS, "quality");
    let size = sizes(&labels, k);
    let mean_cents = centroids(x, dim, &labels, k);
    let cents = if opts.method == ClusterMethod::KMeans { cents } else { mean_cents };
    let quality = Quality {
        sizes: size.clone(),
        inertia: inertia(x, dim, &labels, &cents),
        silhouette: silhouette(x, dim, &labels, k, opts.silhouette_rows, opts.seed),
        silhouette_rows: n.min(opts.silhouette_rows),
        iterations,
    };
    scope.check()?;
    scope.progress(2, STEPS, "2-D map");
    let proj = project_2d(x, dim, opts.seed)?;
    scope.check()?;
    scope.progress(3, STEPS, "keywords");
    let keywords = class_tfidf_keywords(input.texts, &labels, k, opts.keywords);
    let near = nearest_to_centroids(x, dim, &labels, &cents, opts.representatives);
    let mut centroid_2d = vec![[0f64; 2]; k];
    for (c, &l) in proj.coords.iter().zip(&labels) {
        centroid_2d[l as usize][0] += f64::from(c[0]);
        centroid_2d[l as usize][1] += f64::from(c[1]);
    }
    let portions = (0..k)
        .map(|j| Portion {
            id: j,
            label: labels_names.as_ref().map(|(_, names)| names[j].clone()),
            size: size[j],
            keywords: keywords[j].clone(),
            representatives: near[j]
                .iter()
                .map(|&(i, d2)| Representative {
                    index: i,
                    row: input.places[i].0,
                    line: input.places[i].1,
                    distance: d2.sqrt(),
                    text: input.texts[i].chars().take(200).collect(),
                })
                .collect(),
            centroid_2d: if size[j] > 0 {
                [(centroid_2d[j][0] / size[j] as f64) as f32, (centroid_2d[j][1] / size[j] as f64) as f32]
            } else {
                [0.0, 0.0]
            },
        })
        .collect();
    scope.progress(4, STEPS, if opts.elbow { "elbow table" } else { "" });
    let elbow = if opts.elbow { Some(elbow_table(x, dim, opts, sink, cancel)?) } else { None };
    scope.progress(STEPS, STEPS, "done");
    Ok(ClustersFile {
        format: CLUSTERS_FORMAT.into(),
        method: opts.method.as_str().into(),
        k,
        seed: opts.seed,
        by_field: labels_names.map(|(name, _)| name),
        data_sha256: emb.data_sha256.clone(),
        encoder: emb.encoder.clone(),
        field: emb.field.clone(),
        rows: n,
        assignment: labels,
        coords_2d: proj.coords,
        projection: ProjectionInfo { method: proj.method.into(), explained_variance_ratio: proj.explained_variance_ratio },
        centroids: cents.chunks(dim.max(1)).map(|c| c.to_vec()).collect(),
        portions,
        quality,
        elbow,
    })
}

/// k-means inertia and silhouette for K = 2..8 (K up to the number of rows and distinct rows).
pub fn elbow_table(
    x: &[f32],
    dim: usize,
    opts: &ClusterOptions,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<Vec<ElbowRow>, ClusterError> {
    let n = x.len() / dim.max(1);
    let mut rows = Vec::new();
    for k in 2..=8usize {
        if check_k(k, n).is_err() {
            break;
        }
        let kopts = KMeansOptions { k, seed: opts.seed, n_init: opts.n_init, max_iter: opts.max_iter, tol: 1e-4 };
        match kmeans(x, dim, &kopts, sink, cancel) {
            Ok(fit) => rows.push(ElbowRow {
                k,
                inertia: fit.inertia,
                silhouette: silhouette(x, dim, &fit.labels, k, opts.silhouette_rows, opts.seed),
            }),
            Err(ClusterError::Invalid(_)) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}
