//! A uniform grid over 2-D points for nearest-point lookups: the hover on a map of 200,000
//! points looks at a few cells instead of every point.

/// Points bucketed into square cells.
pub struct SpatialGrid {
    min: [f32; 2],
    cell: f32,
    cols: usize,
    rows: usize,
    /// `starts[c]..starts[c + 1]` is cell `c`'s slice of `order`.
    starts: Vec<u32>,
    /// Point indices, grouped by cell.
    order: Vec<u32>,
}

impl SpatialGrid {
    /// Indexes `points` with about `per_cell` points per cell on average.
    pub fn new(points: &[[f32; 2]], per_cell: usize) -> Self {
        let (mut min, mut max) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in points.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
            for a in 0..2 {
                min[a] = min[a].min(p[a]);
                max[a] = max[a].max(p[a]);
            }
        }
        if min[0] > max[0] {
            (min, max) = ([0.0; 2], [1.0; 2]);
        }
        let span = [(max[0] - min[0]).max(1e-6), (max[1] - min[1]).max(1e-6)];
        let cells_wanted = (points.len() / per_cell.max(1)).max(1) as f32;
        let cell = ((span[0] * span[1]) / cells_wanted).sqrt().max(span[0].max(span[1]) / 2048.0);
        let cols = ((span[0] / cell).floor() as usize + 1).min(4096);
        let rows = ((span[1] / cell).floor() as usize + 1).min(4096);
        let mut grid = Self { min, cell, cols, rows, starts: vec![0; cols * rows + 1], order: Vec::new() };
        let cells: Vec<Option<usize>> = points.iter().map(|p| grid.cell_of(*p)).collect();
        for c in cells.iter().flatten() {
            grid.starts[c + 1] += 1;
        }
        for c in 0..cols * rows {
            grid.starts[c + 1] += grid.starts[c];
        }
        let mut fill = grid.starts.clone();
        grid.order = vec![0; grid.starts[cols * rows] as usize];
        for (i, c) in cells.iter().enumerate() {
            if let Some(c) = c {
                grid.order[fill[*c] as usize] = i as u32;
                fill[*c] += 1;
            }
        }
        grid
    }

    fn col_row(&self, p: [f32; 2]) -> Option<(isize, isize)> {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return None;
        }
        Some((((p[0] - self.min[0]) / self.cell).floor() as isize, ((p[1] - self.min[1]) / self.cell).floor() as isize))
    }

    fn cell_of(&self, p: [f32; 2]) -> Option<usize> {
        let (c, r) = self.col_row(p)?;
        let (c, r) = (c.clamp(0, self.cols as isize - 1) as usize, r.clamp(0, self.rows as isize - 1) as usize);
        Some(r * self.cols + c)
    }

    /// The point nearest `at` within `radius` (Euclidean), if any. Among points at the same
    /// distance, `prefer` picks (e.g. a highlighted portion over a greyed one).
    pub fn nearest(&self, points: &[[f32; 2]], at: [f32; 2], radius: f32, prefer: impl Fn(usize) -> bool) -> Option<usize> {
        let (c, r) = self.col_row(at)?;
        let reach = (radius / self.cell).ceil() as isize;
        let mut best: Option<(bool, f32, usize)> = None;
        for row in (r - reach).max(0)..=(r + reach).min(self.rows as isize - 1) {
            for col in (c - reach).max(0)..=(c + reach).min(self.cols as isize - 1) {
                let cell = row as usize * self.cols + col as usize;
                for &i in &self.order[self.starts[cell] as usize..self.starts[cell + 1] as usize] {
                    let p = points[i as usize];
                    let d2 = (p[0] - at[0]).powi(2) + (p[1] - at[1]).powi(2);
                    if d2 > radius * radius {
                        continue;
                    }
                    let preferred = prefer(i as usize);
                    let better = match best {
                        None => true,
                        Some((bp, bd, _)) => (preferred && !bp) || (preferred == bp && d2 < bd),
                    };
                    if better {
                        best = Some((preferred, d2, i as usize));
                    }
                }
            }
        }
        best.map(|(_, _, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hash::SplitMix64;

    #[test]
    fn the_grid_finds_what_a_scan_finds() {
        let mut rng = SplitMix64::new(7);
        let points: Vec<[f32; 2]> = (0..20_000).map(|_| [rng.next_f32() * 10.0 - 5.0, rng.next_f32() * 3.0]).collect();
        let grid = SpatialGrid::new(&points, 8);
        for _ in 0..500 {
            let at = [rng.next_f32() * 12.0 - 6.0, rng.next_f32() * 4.0 - 0.5];
            let radius = 0.05;
            let scan = points
                .iter()
                .enumerate()
                .map(|(i, p)| (i, (p[0] - at[0]).powi(2) + (p[1] - at[1]).powi(2)))
                .filter(|(_, d)| *d <= radius * radius)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i);
            assert_eq!(grid.nearest(&points, at, radius, |_| false), scan, "at {at:?}");
        }
    }

    #[test]
    fn degenerate_inputs_do_not_break_it() {
        let grid = SpatialGrid::new(&[], 8);
        assert_eq!(grid.nearest(&[], [0.0, 0.0], 1.0, |_| false), None);
        let same = vec![[1.0, 1.0]; 100];
        let grid = SpatialGrid::new(&same, 8);
        assert!(grid.nearest(&same, [1.0, 1.0], 0.1, |_| false).is_some());
        let odd = vec![[f32::NAN, 0.0], [0.0, 0.0]];
        let grid = SpatialGrid::new(&odd, 8);
        assert_eq!(grid.nearest(&odd, [0.0, 0.0], 0.1, |_| false), Some(1));
    }
}
