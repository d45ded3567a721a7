//! The Disperse stage from files: read the data, embed it (or read its embeddings), split it into
//! K portions and write `clusters.json`. The CLI and the GUI both disperse through
//! [`run_cluster`].

use super::error::ClusterError;
use super::output::ClustersFile;
use super::run::{disperse, field_values, ClusterInput, ClusterMethod, ClusterOptions};
use crate::engine::data::{load_dataset, LoadDataOptions};
use crate::engine::embed::{check_matches, embed_cached, load_embeddings, load_for_embedding, texts_of, EncoderRequest, TextField};
use crate::engine::job::{run_stage, CancelToken, EventSink};
use std::path::PathBuf;

/// Where the vectors to split come from.
#[derive(Debug, Clone)]
pub enum EmbeddingSource {
    /// A file written by the embed stage for this data.
    File(PathBuf),
    /// Embed the data (or reuse the vectors cached in `cache_dir` for the same data, encoder and
    /// field).
    Encode {
        /// The encoder.
        encoder: EncoderRequest,
        /// Which text of each example.
        field: TextField,
        /// Folder of cached embeddings.
        cache_dir: PathBuf,
    },
}

/// The request of the Disperse stage.
#[derive(Debug, Clone)]
pub struct ClusterRequest {
    /// Instruction data file.
    pub data: PathBuf,
    /// How to read it.
    pub data_options: LoadDataOptions,
    /// The vectors.
    pub embeddings: EmbeddingSource,
    /// Method, K, seed and the rest.
    pub options: ClusterOptions,
    /// The column to split by, for the method `field`.
    pub by: Option<String>,
    /// Where `clusters.json` goes.
    pub out: PathBuf,
}

/// The Disperse stage (`cluster`, with `embed` inside it when the data is embedded): splits the
/// data and writes the clusters file atomically.
pub fn run_cluster(req: &ClusterRequest, sink: &EventSink, cancel: &CancelToken) -> Result<ClustersFile, ClusterError> {
    run_stage("cluster", sink, cancel, |scope| {
        let by = match (req.options.method, &req.by) {
            (ClusterMethod::Field, None) => {
                return Err(ClusterError::Invalid(
                    "the method `field` needs the column to split by (setting `by`, e.g. category or source)".into(),
                ))
            }
            (ClusterMethod::Field, Some(name)) => Some(name.as_str()),
            _ => None,
        };
        let (data, emb) = match &req.embeddings {
            EmbeddingSource::File(path) => {
                let data = load_dataset(&req.data, &req.data_options)?;
                let emb = load_embeddings(path)?;
                check_matches(&emb, &data, path)?;
                (data, emb)
            }
            EmbeddingSource::Encode { encoder, field, cache_dir } => {
                let data = load_for_embedding(&req.data, &req.data_options, *field, &scope)?;
                let (emb, _) = embed_cached(&data, *field, encoder, cache_dir, sink, cancel)?;
                (data, emb)
            }
        };
        scope.check()?;
        let field: TextField = emb.field.parse().map_err(ClusterError::Invalid)?;
        let texts = texts_of(&data.examples, field);
        let places: Vec<(usize, usize)> = data.examples.iter().map(|e| (e.row, e.line)).collect();
        let values = by.map(|name| field_values(&data.examples, name)).transpose()?;
        let input = ClusterInput { embeddings: &emb, texts: &texts, places: &places, field_values: by.zip(values.as_deref()) };
        let result = disperse(&input, &req.options, &scope)?;
        result.save(&req.out)?;
        Ok(result)
    })
}
