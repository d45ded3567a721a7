//! `clusters.png`: the 2-D map of the data coloured by portion (at most [`MAX_POINTS`] rows,
//! evenly spaced in data order, so the same file always gives the same picture), with each
//! portion's centroid marked and labelled with its number and top keywords.

use super::style::{
    draw_legend, padded_range, render_png, shorten, split_legend, Area, Colours, DrawResult, Mark, AXIS_DESC_PX, FONT, GRID, INK, LABEL_PX,
    TITLE_PX,
};
use super::ReportError;
use crate::engine::cluster::ClustersFile;
use plotters::prelude::*;
use std::path::Path;

/// The most rows drawn.
pub const MAX_POINTS: usize = 20_000;

/// The rows drawn: all of them, or `MAX_POINTS` evenly spaced ones.
pub fn sample_indices(rows: usize) -> Vec<usize> {
    if rows <= MAX_POINTS {
        (0..rows).collect()
    } else {
        (0..MAX_POINTS).map(|i| i * rows / MAX_POINTS).collect()
    }
}

/// Each portion's centroid on the map: from the file, or the mean of its rows when it lists none.
pub fn centroids_2d(c: &ClustersFile) -> Vec<Option<[f64; 2]>> {
    (0..c.k)
        .map(|p| {
            if let Some(portion) = c.portions.iter().find(|q| q.id == p) {
                let [x, y] = portion.centroid_2d;
                return Some([x as f64, y as f64]);
            }
            let mine: Vec<&[f32; 2]> = c.assignment.iter().zip(&c.coords_2d).filter(|(a, _)| **a as usize == p).map(|(_, xy)| xy).collect();
            let n = mine.len() as f64;
            (n > 0.0).then(|| [mine.iter().map(|q| q[0] as f64).sum::<f64>() / n, mine.iter().map(|q| q[1] as f64).sum::<f64>() / n])
        })
        .collect()
}

/// The label of portion `p` on the map: its number and up to three keywords.
pub fn portion_caption(c: &ClustersFile, p: usize) -> String {
    let words: Vec<&str> =
        c.portions.iter().find(|q| q.id == p).map(|q| q.keywords.iter().take(3).map(|k| k.word.as_str()).collect()).unwrap_or_default();
    if words.is_empty() {
        format!("P{p}")
    } else {
        shorten(&format!("P{p}: {}", words.join(", ")), 34)
    }
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Box2 {
    /// Left.
    pub x0: i32,
    /// Top.
    pub y0: i32,
    /// Right.
    pub x1: i32,
    /// Bottom.
    pub y1: i32,
}

impl Box2 {
    fn overlaps(&self, o: &Box2) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn inside(&self, o: &Box2) -> bool {
        self.x0 >= o.x0 && self.y0 >= o.y0 && self.x1 <= o.x1 && self.y1 <= o.y1
    }
}

/// Where a label of `size` goes beside a marker at `at`: right of it, else left, else the same
/// moved up or down by one, two or three label heights; the first that lies inside `bounds`
/// and clear of `taken`, else the first inside `bounds`, else right.
pub fn place_label((w, h): (i32, i32), (x, y): (i32, i32), bounds: Box2, taken: &[Box2]) -> Box2 {
    let gap = 12;
    let mut frames = Vec::with_capacity(14);
    for shift in [0, -1, 1, -2, 2, -3, 3] {
        let y0 = y - h / 2 + shift * (h + 4);
        for x0 in [x + gap, x - gap - w] {
            frames.push(Box2 { x0, y0, x1: x0 + w, y1: y0 + h });
        }
    }
    frames
        .iter()
        .find(|f| f.inside(&bounds) && !taken.iter().any(|t| t.overlaps(f)))
        .or_else(|| frames.iter().find(|f| f.inside(&bounds)))
        .copied()
        .unwrap_or(frames[0])
}

/// Draws `clusters.png`.
pub fn clusters_chart(path: &Path, c: &ClustersFile, colours: &Colours) -> Result<(), ReportError> {
    render_png(path, |root| draw_clusters(root, c, colours))
}

fn axis_desc(c: &ClustersFile, axis: usize) -> String {
    let share = c.projection.explained_variance_ratio.get(axis).copied().unwrap_or(f64::NAN);
    if share.is_finite() && share > 0.0 {
        format!("component {} ({:.0}% of variance, {})", axis + 1, 100.0 * share, c.projection.method)
    } else {
        format!("component {} ({})", axis + 1, c.projection.method)
    }
}

fn draw_clusters(root: &Area, c: &ClustersFile, colours: &Colours) -> DrawResult {
    let (plot, legend) = split_legend(root);
    let idx = sample_indices(c.coords_2d.len().min(c.assignment.len()));
    let finite = |i: &usize| c.coords_2d[*i].iter().all(|v| v.is_finite());
    let idx: Vec<usize> = idx.into_iter().filter(finite).collect();
    let (x0, x1) = padded_range(idx.iter().map(|&i| c.coords_2d[i][0] as f64), 0.05).unwrap_or((-1.0, 1.0));
    let (y0, y1) = padded_range(idx.iter().map(|&i| c.coords_2d[i][1] as f64), 0.05).unwrap_or((-1.0, 1.0));
    let shown = if idx.len() < c.rows { format!(" ({} of {} rows)", idx.len(), c.rows) } else { format!(" ({} rows)", c.rows) };
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("Portions on the 2-D map{shown}"), (FONT, TITLE_PX).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(INK)
        .x_desc(axis_desc(c, 0))
        .y_desc(axis_desc(c, 1))
        .axis_desc_style((FONT, AXIS_DESC_PX).into_font().color(&INK))
        .label_style((FONT, LABEL_PX).into_font().color(&INK))
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    let radius = if idx.len() > 5_000 { 1 } else { 2 };
    let alpha = if idx.len() > 5_000 { 0.35 } else { 0.55 };
    chart.draw_series(idx.iter().map(|&i| {
        let [x, y] = c.coords_2d[i];
        Circle::new((x as f64, y as f64), radius, colours.portion(c.assignment[i] as usize).mix(alpha).filled())
    }))?;
    let area = chart.plotting_area();
    let (xs, ys) = area.get_pixel_range();
    let bounds = Box2 { x0: xs.start, y0: ys.start, x1: xs.end, y1: ys.end };
    // (portion, centre on the map, centre in pixels)
    type Centre = (usize, (f64, f64), (i32, i32));
    let centres: Vec<Centre> = centroids_2d(c)
        .into_iter()
        .enumerate()
        .filter_map(|(p, centre)| centre.map(|[x, y]| (p, (x, y), area.map_coordinate(&(x, y)))))
        .collect();
    for &(p, xy, _) in &centres {
        chart.draw_series([Circle::new(xy, 7, colours.portion(p).filled()), Circle::new(xy, 7, INK.stroke_width(2))])?;
    }
    // Markers are obstacles too, so a label does not hide another portion's centre.
    let mut taken: Vec<Box2> = centres.iter().map(|&(_, _, (px, py))| Box2 { x0: px - 8, y0: py - 8, x1: px + 8, y1: py + 8 }).collect();
    let text = (FONT, LABEL_PX).into_font().color(&INK);
    for &(p, _, marker) in &centres {
        let caption = portion_caption(c, p);
        let (w, h) = root.estimate_text_size(&caption, &text)?;
        let own = Box2 { x0: marker.0 - 8, y0: marker.1 - 8, x1: marker.0 + 8, y1: marker.1 + 8 };
        let others: Vec<Box2> = taken.iter().copied().filter(|b| *b != own).collect();
        let frame = place_label((w as i32 + 8, h as i32 + 8), marker, bounds, &others);
        taken.push(frame);
        if frame.y1 < marker.1 - 4 || frame.y0 > marker.1 + 4 {
            // Moved off the marker's line: a leader from the marker to the label's near side.
            let x_end = if frame.x0 > marker.0 { frame.x0 } else { frame.x1 };
            let y_end = if frame.y0 > marker.1 { frame.y0 } else { frame.y1 };
            root.draw(&PathElement::new(vec![marker, (x_end, y_end)], INK.stroke_width(1)))?;
        }
        root.draw(&Rectangle::new([(frame.x0, frame.y0), (frame.x1, frame.y1)], WHITE.mix(0.85).filled()))?;
        root.draw(&Rectangle::new([(frame.x0, frame.y0), (frame.x1, frame.y1)], colours.portion(p).stroke_width(2)))?;
        root.draw(&Text::new(caption, (frame.x0 + 4, frame.y0 + 3), text.clone()))?;
    }
    let sizes = super::summary::portion_sizes(c);
    let mut entries: Vec<(String, Mark)> = vec![(format!("portion, {}", c.method), Mark::None), ("→ model (rows)".into(), Mark::None)];
    entries.extend(sizes.iter().enumerate().map(|(p, n)| (format!("P{p} → sub-{p} ({n})"), Mark::Swatch(colours.portion(p)))));
    entries.push(("● centroid".into(), Mark::None));
    draw_legend(&legend, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_cluster_labels_avoid_each_other_and_the_edges() {
        let bounds = Box2 { x0: 0, y0: 0, x1: 400, y1: 300 };
        let first = place_label((100, 20), (100, 100), bounds, &[]);
        assert_eq!((first.x0, first.x1, first.y0), (112, 212, 90), "right of the marker by default");
        let second = place_label((100, 20), (110, 105), bounds, &[first]);
        assert!(!second.overlaps(&first) && second.inside(&bounds), "{second:?}");
        let edge = place_label((100, 20), (390, 150), bounds, &[]);
        assert!(edge.x1 <= 400 && edge.x0 < 390, "left of a marker near the right edge: {edge:?}");
        // Boxed in on both sides: moved up a line.
        let left = Box2 { x0: 0, y0: 90, x1: 190, y1: 110 };
        let right = Box2 { x0: 210, y0: 90, x1: 400, y1: 110 };
        let up = place_label((100, 20), (200, 100), bounds, &[left, right]);
        assert!(up.y1 <= 90 && !up.overlaps(&left) && !up.overlaps(&right), "{up:?}");
    }

    #[test]
    fn report_cluster_sampling_is_even_and_bounded() {
        assert_eq!(sample_indices(3), vec![0, 1, 2]);
        let s = sample_indices(50_000);
        assert_eq!(s.len(), MAX_POINTS);
        assert_eq!((s[0], s[1], s[MAX_POINTS - 1]), (0, 2, 49_997));
        assert_eq!(s, sample_indices(50_000), "deterministic");
    }
}
