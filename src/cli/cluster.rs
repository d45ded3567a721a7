//! `dtm-studio cluster`: split a dataset into K portions (k-means, balanced, random, or by a
//! column), with a 2-D map, keywords, representative rows and quality figures in clusters.json;
//! and `bench kmeans`.

use super::embed::EncoderArgs;
use super::progress::with_progress;
use crate::engine::cluster::bench::{kmeans_time, KMeansImpl};
use crate::engine::cluster::{run_cluster, ClusterMethod, ClusterOptions, ClusterRequest, ClustersFile, EmbeddingSource};
use crate::engine::data::LoadDataOptions;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Instruction data (Alpaca / ShareGPT / messages JSON or JSONL, CSV, Parquet).
    #[arg(long)]
    pub data: PathBuf,
    /// Embeddings written by `dtm-studio embed` for this data; without it the data is embedded
    /// (or the cached embeddings in --cache-dir are reused).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    #[command(flatten)]
    pub encoder: EncoderArgs,
    /// Folder of cached embeddings (default: the folder of --out).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Number of portions.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// kmeans, balanced (equal sizes), random, or field (one portion per value of --by).
    #[arg(long, default_value = "kmeans")]
    pub method: ClusterMethod,
    /// The column to split by, for `--method field` (e.g. category, source).
    #[arg(long)]
    pub by: Option<String>,
    /// Seed of k-means seeding, the random split and the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// k-means restarts (the lowest inertia wins).
    #[arg(long, default_value_t = 3)]
    pub n_init: usize,
    /// Most k-means iterations.
    #[arg(long, default_value_t = 300)]
    pub max_iter: usize,
    /// Also compute inertia and silhouette for K = 2..8.
    #[arg(long)]
    pub elbow: bool,
    /// Output file.
    #[arg(long, default_value = "clusters.json")]
    pub out: PathBuf,
}

/// Runs `cluster`.
pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let embeddings = match &args.embeddings {
        Some(path) => EmbeddingSource::File(path.clone()),
        None => EmbeddingSource::Encode {
            encoder: args.encoder.request()?,
            field: args.encoder.field,
            cache_dir: args.cache_dir.clone().unwrap_or_else(|| parent_or_here(&args.out)),
        },
    };
    let req = ClusterRequest {
        data: args.data.clone(),
        data_options: LoadDataOptions::default(),
        embeddings,
        options: ClusterOptions {
            method: args.method,
            k: args.k,
            seed: args.seed,
            n_init: args.n_init,
            max_iter: args.max_iter,
            elbow: args.elbow,
            ..Default::default()
        },
        by: args.by.clone(),
        out: args.out.clone(),
    };
    let result = with_progress(|sink, cancel| run_cluster(&req, sink, cancel))?;
    print_summary(&result, &args.out);
    Ok(())
}

fn parent_or_here(p: &Path) -> PathBuf {
    p.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Prints the portions (size, keywords, one example) and the quality figures.
fn print_summary(r: &ClustersFile, out: &Path) {
    println!("{} rows into K = {} portions by {} ({} embeddings of the {} text)", r.rows, r.k, r.method, r.encoder, r.field);
    for p in &r.portions {
        let words: Vec<&str> = p.keywords.iter().map(|k| k.word.as_str()).collect();
        let label = p.label.as_deref().map(|l| format!(" [{l}]")).unwrap_or_default();
        println!("  portion {}{label}: {:>6} rows  {}", p.id, p.size, words.join(", "));
        if let Some(rep) = p.representatives.first() {
            let text: String = rep.text.chars().take(90).collect::<String>().replace('\n', " ");
            println!("             e.g. row {}: {text}", rep.row);
        }
    }
    let sil = r.quality.silhouette.map(|s| format!("{s:.3}")).unwrap_or_else(|| "n/a".into());
    println!(
        "inertia {:.2}, silhouette {sil} (on {} rows); map: {} ({:.1}% + {:.1}% of variance)",
        r.quality.inertia,
        r.quality.silhouette_rows,
        r.projection.method,
        100.0 * r.projection.explained_variance_ratio[0],
        100.0 * r.projection.explained_variance_ratio[1]
    );
    if let Some(elbow) = &r.elbow {
        println!("   K    inertia  silhouette");
        for e in elbow {
            println!("  {:>2} {:>10.2}  {}", e.k, e.inertia, e.silhouette.map(|s| format!("{s:.3}")).unwrap_or_else(|| "n/a".into()));
        }
    }
    println!("wrote {}", out.display());
}

/// Arguments of `bench kmeans`.
#[derive(Debug, Args)]
pub struct KMeansBenchArgs {
    /// Points (standard normal).
    #[arg(long, default_value_t = 50_000)]
    pub n: usize,
    /// Dimension.
    #[arg(long, default_value_t = 384)]
    pub dim: usize,
    /// Clusters.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Iterations (tolerance 0, one init).
    #[arg(long, default_value_t = 100)]
    pub iters: usize,
    /// Timed repetitions after one warm-up (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Also time linfa-clustering's KMeans on the same points.
    #[arg(long)]
    pub linfa: bool,
}

/// Runs `bench kmeans`: one JSON line (two with --linfa).
pub fn bench(args: KMeansBenchArgs) -> anyhow::Result<()> {
    let fig = kmeans_time(args.n, args.dim, args.k, args.iters, args.reps, KMeansImpl::Own)?;
    println!("{}", serde_json::to_string(&fig)?);
    if args.linfa {
        let fig = kmeans_time(args.n, args.dim, args.k, args.iters, args.reps, KMeansImpl::Linfa)?;
        println!("{}", serde_json::to_string(&fig)?);
    }
    Ok(())
}
