//! Turning a long loss series into what a chart draws: a smoothed copy that does not lean on the
//! first points (a debiased exponential moving average, as TensorBoard's smoothing slider), and a
//! shorter copy for drawing that keeps each pixel column's first, lowest, highest and last point,
//! so that a spike survives however many points share its column. No point is ever dropped from
//! the series itself; only the drawing is thinned.

/// The debiased exponential moving average of `points` (x, y) with weight `weight` in 0..1 (0:
/// no smoothing). Early values are divided by `1 - weight^n`, so the curve starts at the first
/// point instead of being pulled towards zero. Non-finite values are passed through unsmoothed
/// and do not enter the average.
pub fn smooth(points: &[[f64; 2]], weight: f64) -> Vec<[f64; 2]> {
    let weight = weight.clamp(0.0, 0.999);
    let (mut last, mut seen) = (0.0, 0i32);
    points
        .iter()
        .map(|&[x, y]| {
            if !y.is_finite() {
                return [x, y];
            }
            last = last * weight + (1.0 - weight) * y;
            seen += 1;
            let debias = 1.0 - weight.powi(seen);
            [x, if debias > 0.0 { last / debias } else { y }]
        })
        .collect()
}

/// At most about four points per pixel column of `points` (sorted by x) between `x_min` and
/// `x_max` drawn `columns` wide: per column the first, the lowest, the highest and the last, in x
/// order. The nearest point outside the range on each side is kept so that lines run to the
/// plot's edges. Short series come back as they are.
pub fn downsample(points: &[[f64; 2]], x_min: f64, x_max: f64, columns: usize) -> Vec<[f64; 2]> {
    let start = points.partition_point(|p| p[0] < x_min).saturating_sub(1);
    let end = (points.partition_point(|p| p[0] <= x_max) + 1).min(points.len());
    let visible = &points[start..end.max(start)];
    let columns = columns.max(1);
    if visible.len() <= columns * 4 || x_max <= x_min {
        return visible.to_vec();
    }
    let width = (x_max - x_min) / columns as f64;
    let column_of = |x: f64| ((x - x_min) / width).floor().clamp(-1.0, columns as f64) as i64;
    let mut out = Vec::with_capacity(columns * 4);
    let mut i = 0;
    while i < visible.len() {
        let column = column_of(visible[i][0]);
        let mut j = i;
        let (mut low, mut high) = (i, i);
        while j < visible.len() && column_of(visible[j][0]) == column {
            if visible[j][1] < visible[low][1] {
                low = j;
            }
            if visible[j][1] > visible[high][1] {
                high = j;
            }
            j += 1;
        }
        let mut picks = [i, low, high, j - 1];
        picks.sort_unstable();
        let mut previous = usize::MAX;
        for p in picks {
            if p != previous {
                out.push(visible[p]);
                previous = p;
            }
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_starts_at_the_first_point_and_follows_a_step() {
        let pts: Vec<[f64; 2]> = (0..200).map(|i| [i as f64, if i < 100 { 2.0 } else { 1.0 }]).collect();
        let s = smooth(&pts, 0.9);
        assert_eq!(s.len(), pts.len());
        assert!((s[0][1] - 2.0).abs() < 1e-12, "debiased: the first value is the first point, not 0.2");
        assert!((s[50][1] - 2.0).abs() < 1e-9, "a flat start stays flat");
        assert!(s[101][1] > 1.5 && s[101][1] < 2.0, "just after the drop it lags");
        assert!((s[199][1] - 1.0).abs() < 1e-3, "long after it has caught up");
        assert_eq!(smooth(&pts, 0.0), pts, "weight 0 leaves the series as it is");
    }

    #[test]
    fn a_non_finite_value_does_not_poison_the_average() {
        let pts = [[0.0, 2.0], [1.0, f64::NAN], [2.0, 2.0]];
        let s = smooth(&pts, 0.5);
        assert!(s[1][1].is_nan());
        assert!((s[2][1] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn downsampling_keeps_spikes_and_ends() {
        let mut pts: Vec<[f64; 2]> = (0..10_000).map(|i| [i as f64, 1.0 + (i as f64 * 0.1).sin() * 0.01]).collect();
        pts[4321][1] = 50.0;
        pts[7777][1] = -3.0;
        let d = downsample(&pts, 0.0, 9_999.0, 100);
        assert!(d.len() <= 100 * 4 + 4 && d.len() >= 100, "{} points", d.len());
        assert!(d.contains(&pts[4321]) && d.contains(&pts[7777]), "the spike and the dip stay");
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.windows(2).all(|w| w[0][0] < w[1][0]), "still in x order");
    }

    #[test]
    fn downsampling_a_zoomed_range_keeps_one_point_beyond_each_edge() {
        let pts: Vec<[f64; 2]> = (0..10_000).map(|i| [i as f64, i as f64]).collect();
        let d = downsample(&pts, 1000.0, 2000.0, 50);
        assert_eq!(d.first().unwrap()[0], 999.0);
        assert_eq!(d.last().unwrap()[0], 2001.0);
        let short = downsample(&pts[..10], 0.0, 9.0, 100);
        assert_eq!(short, pts[..10].to_vec(), "short series are drawn whole");
    }
}
