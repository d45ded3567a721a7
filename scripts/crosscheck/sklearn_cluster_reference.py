"""Reference k-means, silhouette and PCA from scikit-learn, for the Rust clustering test.

Usage (from the repository root; any venv with `pip install scikit-learn numpy`):
    python scripts/crosscheck/sklearn_cluster_reference.py [OUT_JSON=tests/fixtures/sklearn_cluster_reference.json]

Two seeded data sets of 600 points in 16 dimensions, drawn around 4 centres (unequal sizes):
`separated` (centres far apart: the k-means optimum is unique, so any good seeding finds it) and
`overlapping` (centres closer than the noise: k-means has several local optima, so the Rust Lloyd
iterations are compared from scikit-learn's own k-means++ starting rows). The points are stored
as integers `points_q` with `points = points_q * points_scale` (a power of two), so Rust reads
exactly the float32 values that scikit-learn saw (scikit-learn computes in float64 on them).

Per data set: KMeans(k=4, n_init=10, random_state=0) (inertia, labels, centroids, n_iter); two
fits started from the rows that `kmeans_plusplus` picked (n_init=1, tol=0: stops when no label
changes; tol=1e-2: scikit-learn's centre-shift rule, with the absolute tolerance `tol_abs` =
tol * mean feature variance; on `overlapping` it stops the run 4 iterations early); silhouette_score (euclidean, every point, on the KMeans labels and,
for `overlapping`, on labels with one point moved into a cluster of its own); PCA(2, full SVD)
(coordinates, explained_variance_ratio). The script checks that nothing it records sits on a knife
edge (a point almost equidistant from two centroids, a centre shift almost equal to the tolerance,
two almost equal PCA eigenvalues), so a faithful float32 implementation must agree.
"""
import json, sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sklearn_cluster_reference.json"

DIM, K = 16, 4
SIZES = [180, 160, 140, 120]
SCALE = 2.0**-7  # points are multiples of 1/128: exact in float32 and short in JSON
TOL = 1e-4  # KMeans default
TOL_STOP = 1e-2  # large enough that the centre-shift rule, not a label fixpoint, ends the run
rng = np.random.default_rng(20240601)


def make(centre_std):
    centres = rng.normal(0.0, centre_std, (K, DIM))
    pts = np.concatenate([c + rng.normal(0.0, 1.0, (n, DIM)) for c, n in zip(centres, SIZES)])
    pts = pts[rng.permutation(len(pts))]
    q = np.round(pts / SCALE).astype(np.int64)
    assert np.abs(q).max() < 2**24
    x = q.astype(np.float64) * SCALE
    assert np.array_equal(x.astype(np.float32).astype(np.float64), x)
    return q, x


def margin(x, centres):
    """Smallest relative gap between a point's nearest and second-nearest centre (squared)."""
    d = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    d.sort(axis=1)
    return float(((d[:, 1] - d[:, 0]) / d[:, 1]).min())


def lloyd_replica(x, init, tol_abs, max_iter=300):
    """scikit-learn's `_kmeans_single_lloyd`, in plain numpy: labels, centres, n_iter and the
    centre shift of every iteration."""
    c = init.copy()
    labels_old = np.full(len(x), -1)
    shifts, margins = [], []
    for i in range(max_iter):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        labels = d.argmin(1)
        margins.append(margin(x, c))
        new = np.stack([x[labels == j].mean(0) for j in range(K)])
        shift = float(((new - c) ** 2).sum())
        c = new
        shifts.append(shift)
        if np.array_equal(labels, labels_old):
            break
        if shift <= tol_abs:
            break
        labels_old = labels
    labels = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1)
    return labels, c, i + 1, shifts, margins


def r7(a):
    """Seven significant digits (more than float32 coordinates need), to keep the file small."""
    return [float(f"{v:.7g}") for v in np.asarray(a).ravel()]


def dataset(name, centre_std, extra_silhouette=False):
    q, x = make(centre_std)
    n = len(x)
    km = KMeans(n_clusters=K, n_init=10, random_state=0, algorithm="lloyd", tol=TOL).fit(x)
    assert margin(x, km.cluster_centers_) > 1e-3, f"{name}: a point sits between two centroids"
    entry = {
        "n": n,
        "dim": DIM,
        "k": K,
        "points_scale": SCALE,
        "points_q": q.ravel().tolist(),
        "kmeans": {
            "n_init": 10,
            "tol": TOL,
            "inertia": float(km.inertia_),
            "labels": km.labels_.tolist(),
            "centroids": r7(km.cluster_centers_),
            "n_iter": int(km.n_iter_),
        },
    }
    # Lloyd from scikit-learn's k-means++ rows, with and without the centre-shift tolerance.
    _, init_rows = kmeans_plusplus(x, K, random_state=0)
    init = x[init_rows]
    tol_abs = float(np.mean(np.var(x, axis=0)) * TOL_STOP)
    runs = {}
    for key, tol in [("from_init_tol0", 0.0), ("from_init_tol", TOL_STOP)]:
        fit = KMeans(n_clusters=K, init=init, n_init=1, algorithm="lloyd", tol=tol, max_iter=300).fit(x)
        labels, centres, n_iter, shifts, margins = lloyd_replica(x, init, tol * np.mean(np.var(x, axis=0)))
        assert np.array_equal(labels, fit.labels_) and n_iter == fit.n_iter_, f"{name} {key}: replica differs"
        assert np.allclose(centres, fit.cluster_centers_, rtol=0, atol=1e-9)
        # No label decision on the way is close to a tie, and a tolerance stop is not borderline.
        assert min(margins) > 1e-4, f"{name} {key}: near tie {min(margins)}"
        if tol > 0:
            for s in shifts:
                assert abs(s - tol_abs) > 0.05 * tol_abs, f"{name} {key}: shift {s} vs tolerance {tol_abs}"
        runs[key] = {
            "tol": tol,
            "inertia": float(fit.inertia_),
            "labels": fit.labels_.tolist(),
            "centroids": r7(fit.cluster_centers_),
            "n_iter": int(fit.n_iter_),
            "last_shift": shifts[-1],
        }
    entry["init_rows"] = [int(r) for r in init_rows]
    entry["tol_abs"] = tol_abs
    entry.update(runs)
    sil = {"kmeans_labels": float(silhouette_score(x, km.labels_, metric="euclidean"))}
    if extra_silhouette:
        # One point alone in a fifth cluster: scikit-learn scores it 0.
        lab = km.labels_.copy()
        lab[7] = K
        sil["singleton_row"] = 7
        sil["singleton_labels"] = float(silhouette_score(x, lab, metric="euclidean"))
    entry["silhouette"] = sil
    pca = PCA(n_components=2, svd_solver="full").fit(x)
    ev = np.linalg.eigvalsh(np.cov(x.T))[::-1]
    assert (ev[0] - ev[1]) / ev[0] > 0.05 and (ev[1] - ev[2]) / ev[1] > 0.05, f"{name}: PCA axes ambiguous {ev[:3]}"
    entry["pca"] = {
        "coords": r7(pca.transform(x)),
        "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_],
        "eigenvalues_top3": [float(v) for v in ev[:3]],
    }
    return entry


ref = {
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
    "separated": dataset("separated", 2.5),
    "overlapping": dataset("overlapping", 0.5, extra_silhouette=True),
}
with open(out, "w") as f:
    json.dump(ref, f, separators=(",", ":"))
    f.write("\n")
for name in ("separated", "overlapping"):
    e = ref[name]
    print(
        f"{name}: inertia {e['kmeans']['inertia']:.6f} (n_iter {e['kmeans']['n_iter']}), "
        f"from init tol0 {e['from_init_tol0']['inertia']:.6f} (n_iter {e['from_init_tol0']['n_iter']}), "
        f"tol {e['from_init_tol']['inertia']:.6f} (n_iter {e['from_init_tol']['n_iter']}), "
        f"silhouette {e['silhouette']}, PCA ratio {e['pca']['explained_variance_ratio']}"
    )
print(f"wrote {out}")
