//! k-means, inertia, silhouette and the 2-D PCA map against scikit-learn (reference:
//! scripts/crosscheck/sklearn_cluster_reference.py, fixture tests/fixtures/sklearn_cluster_reference.json).
//!
//! Two data sets of 600 points in 16-D: `separated`, where the k-means optimum is unique so the
//! Rust k-means with its own seeding must find scikit-learn's partition, and `overlapping`, where
//! k-means has several local optima, so the Rust Lloyd iterations are started from the rows
//! scikit-learn's k-means++ picked and must follow the same path (same labels, same iteration
//! count, with and without the centre-shift tolerance).

use crate::common::{fixture, read_json};
use dtm_studio::engine::cluster::kmeans::lloyd;
use dtm_studio::engine::cluster::lloyd::row_norms;
use dtm_studio::engine::cluster::quality::{centroids, inertia, silhouette, SILHOUETTE_SAMPLE_ROWS};
use dtm_studio::engine::cluster::{kmeans, project_2d, KMeansOptions};
use dtm_studio::engine::job::{CancelToken, EventSink};
use serde_json::Value;

/// One data set of the fixture: the points exactly as scikit-learn saw them.
struct Set {
    json: Value,
    x: Vec<f32>,
    n: usize,
    dim: usize,
    k: usize,
}

fn set(name: &str) -> Set {
    let all = read_json(&fixture("sklearn_cluster_reference.json"));
    let json = all[name].clone();
    let (n, dim, k) = (json["n"].as_u64().unwrap() as usize, json["dim"].as_u64().unwrap() as usize, json["k"].as_u64().unwrap() as usize);
    let scale = json["points_scale"].as_f64().unwrap() as f32;
    assert_eq!(scale.log2().fract(), 0.0, "a power of two keeps the points exact");
    let x: Vec<f32> = json["points_q"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as f32 * scale).collect();
    assert_eq!(x.len(), n * dim);
    Set { json, x, n, dim, k }
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|l| l.as_u64().unwrap() as u32).collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|l| l.as_f64().unwrap()).collect()
}

/// `perm` with `theirs[i] == perm[ours[i]]` for every row, when the labels are equal up to a
/// renaming of the clusters.
fn permutation(ours: &[u32], theirs: &[u32], k: usize) -> Option<Vec<u32>> {
    let mut perm = vec![u32::MAX; k];
    for (&a, &b) in ours.iter().zip(theirs) {
        if perm[a as usize] == u32::MAX {
            perm[a as usize] = b;
        } else if perm[a as usize] != b {
            return None;
        }
    }
    let mut seen = perm.clone();
    seen.sort_unstable();
    seen.dedup();
    (seen.len() == k && !seen.contains(&u32::MAX)).then_some(perm)
}

fn rel_diff(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Largest |ours - theirs| over the centroids, ours renamed by `perm`.
fn centroid_diff(ours: &[f32], theirs: &[f64], perm: &[u32], dim: usize) -> f64 {
    let mut worst = 0f64;
    for (c, &p) in perm.iter().enumerate() {
        for j in 0..dim {
            worst = worst.max((f64::from(ours[c * dim + j]) - theirs[p as usize * dim + j]).abs());
        }
    }
    worst
}

fn abs_max(v: &[f64]) -> f64 {
    v.iter().fold(0f64, |a, b| a.max(b.abs()))
}

#[test]
fn cluster_sklearn_kmeans_finds_the_unique_optimum() {
    let s = set("separated");
    let want = &s.json["kmeans"];
    let opts = KMeansOptions { k: s.k, ..Default::default() };
    let fit = kmeans(&s.x, s.dim, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
    let theirs = u32s(&want["labels"]);
    let perm = permutation(&fit.labels, &theirs, s.k).expect("k-means labels differ from scikit-learn's beyond a renaming");
    let (ri, ci) = (rel_diff(fit.inertia, want["inertia"].as_f64().unwrap()), f64s(&want["centroids"]));
    let dc = centroid_diff(&fit.centroids, &ci, &perm, s.dim);
    eprintln!(
        "separated k-means: inertia {} vs sklearn {} (rel {ri:.2e}), centroids max abs diff {dc:.2e}, {} vs {} iterations",
        fit.inertia, want["inertia"], fit.iterations, want["n_iter"]
    );
    assert!(ri < 1e-4, "inertia {} vs scikit-learn {}", fit.inertia, want["inertia"]);
    assert!(dc < 1e-4 * abs_max(&ci), "centroids differ by {dc}");
}

#[test]
fn cluster_sklearn_lloyd_follows_sklearn_from_the_same_start() {
    for name in ["separated", "overlapping"] {
        let s = set(name);
        let rows: Vec<usize> = u32s(&s.json["init_rows"]).into_iter().map(|r| r as usize).collect();
        let init: Vec<f32> = rows.iter().flat_map(|&r| s.x[r * s.dim..(r + 1) * s.dim].to_vec()).collect();
        let norms = row_norms(&s.x, s.dim);
        for run in ["from_init_tol0", "from_init_tol"] {
            let want = &s.json[run];
            let tol_abs = if want["tol"].as_f64().unwrap() > 0.0 { s.json["tol_abs"].as_f64().unwrap() } else { 0.0 };
            let fit = lloyd(&s.x, &norms, s.dim, init.clone(), (300, tol_abs), &|_, _| {}, &CancelToken::new()).unwrap();
            let theirs = u32s(&want["labels"]);
            let ci = f64s(&want["centroids"]);
            let ri = rel_diff(fit.inertia, want["inertia"].as_f64().unwrap());
            let identity: Vec<u32> = (0..s.k as u32).collect();
            let dc = centroid_diff(&fit.centroids, &ci, &identity, s.dim);
            let wrong = fit.labels.iter().zip(&theirs).filter(|(a, b)| a != b).count();
            eprintln!(
                "{name} {run}: inertia {} vs sklearn {} (rel {ri:.2e}), {wrong} labels differ, centroids max abs diff {dc:.2e}, {} vs {} iterations",
                fit.inertia, want["inertia"], fit.iterations, want["n_iter"]
            );
            // Started from the same rows in the same order, cluster j is cluster j.
            assert_eq!(wrong, 0, "{name} {run}: labels differ from scikit-learn's");
            assert_eq!(fit.iterations as u64, want["n_iter"].as_u64().unwrap(), "{name} {run}: iterations");
            assert!(ri < 1e-4, "{name} {run}: inertia {} vs {}", fit.inertia, want["inertia"]);
            assert!(dc < 1e-4 * abs_max(&ci), "{name} {run}: centroids differ by {dc}");
        }
        // The fixture's local optimum on the overlapping data is not scikit-learn's best: the
        // comparison above is of the iterations, not of a search that any seeding would win.
        if name == "overlapping" {
            let (best, local) = (s.json["kmeans"]["inertia"].as_f64().unwrap(), s.json["from_init_tol0"]["inertia"].as_f64().unwrap());
            assert!(local > best * 1.01, "{local} vs {best}");
            let own =
                kmeans(&s.x, s.dim, &KMeansOptions { k: s.k, ..Default::default() }, &EventSink::discard(), &CancelToken::new()).unwrap();
            eprintln!("overlapping: Rust k-means with its own seeding {} (sklearn n_init=10: {best})", own.inertia);
        }
    }
}

#[test]
fn cluster_sklearn_inertia_and_silhouette_on_sklearn_labels() {
    for name in ["separated", "overlapping"] {
        let s = set(name);
        assert!(s.n <= SILHOUETTE_SAMPLE_ROWS, "the silhouette must use every row to be exact");
        let labels = u32s(&s.json["kmeans"]["labels"]);
        let c = centroids(&s.x, s.dim, &labels, s.k);
        let got = inertia(&s.x, s.dim, &labels, &c);
        let want = s.json["kmeans"]["inertia"].as_f64().unwrap();
        let sil = silhouette(&s.x, s.dim, &labels, s.k, SILHOUETTE_SAMPLE_ROWS, 0).unwrap();
        let want_sil = s.json["silhouette"]["kmeans_labels"].as_f64().unwrap();
        eprintln!(
            "{name}: inertia {got} vs {want} (abs {:.2e}, rel {:.2e}); silhouette {sil} vs {want_sil} (abs {:.2e})",
            (got - want).abs(),
            rel_diff(got, want),
            (sil - want_sil).abs()
        );
        assert!(rel_diff(got, want) < 1e-4, "{name}: inertia {got} vs {want}");
        assert!((sil - want_sil).abs() < 1e-5, "{name}: silhouette {sil} vs {want_sil}");
        if let Some(row) = s.json["silhouette"]["singleton_row"].as_u64() {
            // One row alone in a fifth cluster scores 0, as in scikit-learn.
            let mut lab = labels.clone();
            lab[row as usize] = s.k as u32;
            let sil = silhouette(&s.x, s.dim, &lab, s.k + 1, SILHOUETTE_SAMPLE_ROWS, 0).unwrap();
            let want_sil = s.json["silhouette"]["singleton_labels"].as_f64().unwrap();
            eprintln!("{name} with a singleton: silhouette {sil} vs {want_sil} (abs {:.2e})", (sil - want_sil).abs());
            assert!((sil - want_sil).abs() < 1e-5, "{name} with a singleton: silhouette {sil} vs {want_sil}");
        }
    }
}

#[test]
fn cluster_sklearn_pca_matches_up_to_axis_signs() {
    for name in ["separated", "overlapping"] {
        let s = set(name);
        let p = project_2d(&s.x, s.dim, 0).unwrap();
        assert_eq!(p.method, "pca-exact");
        let want = f64s(&s.json["pca"]["coords"]);
        assert_eq!(want.len(), 2 * s.n);
        let scale = abs_max(&want);
        let mut worst = [0f64; 2];
        for axis in 0..2 {
            let dot: f64 = p.coords.iter().enumerate().map(|(i, c)| f64::from(c[axis]) * want[2 * i + axis]).sum();
            let sign = dot.signum();
            for (i, c) in p.coords.iter().enumerate() {
                worst[axis] = worst[axis].max((sign * f64::from(c[axis]) - want[2 * i + axis]).abs());
            }
        }
        let ratio = f64s(&s.json["pca"]["explained_variance_ratio"]);
        let dr = [(p.explained_variance_ratio[0] - ratio[0]).abs(), (p.explained_variance_ratio[1] - ratio[1]).abs()];
        eprintln!(
            "{name} PCA: coords max abs diff {:.2e} / {:.2e} (scale {scale:.3}), explained variance ratio {:?} vs {ratio:?} (abs {:.2e} / {:.2e})",
            worst[0], worst[1], p.explained_variance_ratio, dr[0], dr[1]
        );
        assert!(worst[0] < 1e-4 * scale && worst[1] < 1e-4 * scale, "{name}: PCA coordinates differ by {worst:?} (scale {scale})");
        assert!(dr[0] < 1e-6 && dr[1] < 1e-6, "{name}: explained variance ratio {:?} vs {ratio:?}", p.explained_variance_ratio);
    }
}
