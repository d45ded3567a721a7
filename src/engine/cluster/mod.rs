//! The Disperse split: k-means (cosine geometry via L2-normalised vectors), balanced k-means,
//! a seeded random split, or a split by an existing column; quality figures (sizes, inertia,
//! silhouette, elbow table), a 2-D PCA map, and per-portion keywords and representative rows.

pub mod balanced;
pub mod bench;
pub mod error;
pub mod keywords;
pub mod kmeans;
pub mod lloyd;
pub mod output;
pub mod pca;
pub mod quality;
pub mod run;
pub mod stage;

pub use error::ClusterError;
pub use kmeans::{kmeans, KMeansFit, KMeansOptions};
pub use output::{ClustersFile, ElbowRow, Portion, Quality, Representative};
pub use pca::{project_2d, Projection};
pub use run::{disperse, elbow_table, field_values, ClusterInput, ClusterMethod, ClusterOptions};
pub use stage::{run_cluster, ClusterRequest, EmbeddingSource};
