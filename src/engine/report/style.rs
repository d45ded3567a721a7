//! The look shared by every chart: size, text sizes (the font is embedded, see `canvas`), one
//! palette that gives each model, run and portion the same
//! colour in every chart, a side legend, and PNG encoding with an atomic write.

use super::canvas::Canvas;
use super::error::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Chart width in pixels.
pub const WIDTH_PX: u32 = 900;
/// Chart height in pixels.
pub const HEIGHT_PX: u32 = 500;
/// Width of the legend column on the right of a chart, in pixels.
pub const LEGEND_WIDTH_PX: u32 = 190;

/// The font family named in text styles (every family is drawn with the embedded font).
pub const FONT: &str = "sans-serif";
/// Chart title size in pixels.
pub const TITLE_PX: u32 = 22;
/// Axis description size in pixels.
pub const AXIS_DESC_PX: u32 = 17;
/// Tick label and legend size in pixels.
pub const LABEL_PX: u32 = 15;

/// The colour of the base model.
pub const BASE_GREY: RGBColor = RGBColor(110, 110, 110);
/// Dark grey for error whiskers, reference lines and legend style keys.
pub const INK: RGBColor = RGBColor(40, 40, 40);
/// Light grey for the grid.
pub const GRID: RGBColor = RGBColor(225, 225, 225);

/// matplotlib's tab10 without its grey (kept for the base model), then tab20's light
/// companions of the same hues; labels past these 18 get hues spaced by the golden angle.
const PALETTE: [RGBColor; 18] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

/// The `n`-th colour (0-based) given to a label other than the base.
fn nth_colour(n: usize) -> RGBColor {
    match PALETTE.get(n) {
        Some(c) => *c,
        None => {
            let (r, g, b) = HSLColor((n as f64 * 0.381_966).fract(), 0.65, 0.42).rgb();
            RGBColor(r, g, b)
        }
    }
}

/// Portion `p`'s colour as the report's charts give it (`sub-<p>` after `vanilla`), as RGB bytes,
/// so the window's cluster map and the report agree.
pub fn portion_rgb(p: usize) -> [u8; 3] {
    let c = nth_colour(p + 1);
    [c.0, c.1, c.2]
}

/// The colour `vanilla` gets in the report's charts (the first after the base), as RGB bytes.
pub fn vanilla_rgb() -> [u8; 3] {
    let c = nth_colour(0);
    [c.0, c.1, c.2]
}

/// One colour per label: the base grey, every other label the next palette colour in the order
/// first seen (models, then runs, then portions as `sub-<p>`), so `sub-2`'s bar, loss curve and
/// portion share a colour.
#[derive(Debug, Clone)]
pub struct Colours {
    assigned: Vec<(String, RGBColor)>,
}

impl Colours {
    /// Assigns colours to `labels` in order; `base` (if any) gets [`BASE_GREY`].
    pub fn new<'a>(base: Option<&str>, labels: impl IntoIterator<Item = &'a str>) -> Self {
        let mut assigned: Vec<(String, RGBColor)> = Vec::new();
        let mut next = 0;
        for label in labels {
            if assigned.iter().any(|(l, _)| l == label) {
                continue;
            }
            let colour = if Some(label) == base {
                BASE_GREY
            } else {
                next += 1;
                nth_colour(next - 1)
            };
            assigned.push((label.to_string(), colour));
        }
        Self { assigned }
    }

    /// The colour of `label` (grey when it was never assigned).
    pub fn of(&self, label: &str) -> RGBColor {
        self.assigned.iter().find(|(l, _)| l == label).map(|(_, c)| *c).unwrap_or(BASE_GREY)
    }

    /// The colour of portion `p` (the colour of its sub-model `sub-<p>`).
    pub fn portion(&self, p: usize) -> RGBColor {
        self.of(&portion_label(p))
    }
}

/// The label of the sub-model trained on portion `p`.
pub fn portion_label(p: usize) -> String {
    format!("sub-{p}")
}

/// The drawing area charts draw on.
pub type Area<'a> = DrawingArea<Canvas<'a>, Shift>;

/// What a drawing step returns; plotters' errors are boxed and become [`ReportError::Chart`].
pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws a [`WIDTH_PX`] x [`HEIGHT_PX`] chart with `draw` on a white canvas and writes it to
/// `path` as a PNG (temporary name, then rename).
pub fn render_png(path: &Path, draw: impl FnOnce(&Area) -> DrawResult) -> Result<(), ReportError> {
    let chart_err = |detail: String| ReportError::Chart { path: path.to_path_buf(), detail };
    let (w, h) = (WIDTH_PX, HEIGHT_PX);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = Canvas::new(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_err(e.to_string()))?;
        draw(&root).map_err(|e| chart_err(e.to_string()))?;
        root.present().map_err(|e| chart_err(e.to_string()))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| chart_err(format!("PNG encoding: {e}")))?;
    crate::engine::fsutil::write_atomic(path, &png).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

/// Encodes 8-bit RGB pixels as a PNG file in memory.
pub fn encode_png(rgb: &[u8], width_px: u32, height_px: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width_px, height_px);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// Splits a chart into the plot (left) and the legend column (right).
pub fn split_legend<'a>(root: &Area<'a>) -> (Area<'a>, Area<'a>) {
    root.split_horizontally(WIDTH_PX - LEGEND_WIDTH_PX)
}

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A filled square (bars, portions).
    Swatch(RGBColor),
    /// A line (series).
    Line(RGBColor, u32),
    /// A light thin line (raw values behind a smoothed one).
    Faint(RGBColor),
    /// A line with a dot (points joined by a line).
    LineDot(RGBColor),
    /// A dashed reference line.
    Dashed(RGBColor),
    /// No mark: a heading or a note.
    None,
}

/// Height of one legend entry in pixels.
const ENTRY_PX: i32 = 22;

/// Draws the legend entries top-down in the legend column; entries that do not fit are summed
/// up as "+N more".
pub fn draw_legend(area: &Area, entries: &[(String, Mark)]) -> DrawResult {
    let (_, h) = area.dim_in_pixel();
    let text = (FONT, LABEL_PX).into_font().color(&INK);
    let fits = ((h as i32 - 50) / ENTRY_PX).max(1) as usize;
    let shown = if entries.len() > fits { fits - 1 } else { entries.len() };
    for (i, (label, mark)) in entries.iter().take(shown).enumerate() {
        let y = 40 + i as i32 * ENTRY_PX;
        let x_text = if matches!(mark, Mark::None) { 8 } else { 38 };
        draw_mark(area, *mark, (8, y))?;
        area.draw(&Text::new(shorten(label, 20), (x_text, y - 8), text.clone()))?;
    }
    if shown < entries.len() {
        let y = 40 + shown as i32 * ENTRY_PX;
        area.draw(&Text::new(format!("+{} more", entries.len() - shown), (38, y - 8), text))?;
    }
    Ok(())
}

fn draw_mark(area: &Area, mark: Mark, (x, y): (i32, i32)) -> DrawResult {
    match mark {
        Mark::Swatch(c) => area.draw(&Rectangle::new([(x + 4, y - 7), (x + 20, y + 7)], c.filled()))?,
        Mark::Line(c, w) => area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(w)))?,
        Mark::Faint(c) => area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], c.mix(0.35).stroke_width(1)))?,
        Mark::LineDot(c) => {
            area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(2)))?;
            area.draw(&Circle::new((x + 12, y), 4, c.filled()))?;
        }
        Mark::Dashed(c) => {
            for k in 0..3 {
                area.draw(&PathElement::new(vec![(x + k * 9, y), (x + k * 9 + 5, y)], c.stroke_width(2)))?;
            }
        }
        Mark::None => {}
    }
    Ok(())
}

/// `s` cut to `max_chars` characters with an ellipsis.
pub fn shorten(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max_chars.saturating_sub(1)).collect::<String>())
    }
}

/// A range covering `values` with `pad` (a fraction of the span) on both sides, never empty.
pub fn padded_range(values: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let span = if hi - lo > 1e-12 { hi - lo } else { lo.abs().max(1.0) };
    Some((lo - pad * span, hi + pad * span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_colours_are_stable_and_shared_by_label() {
        let c = Colours::new(Some("base"), ["base", "vanilla", "sub-0", "sub-1", "vanilla"]);
        assert_eq!(c.of("base"), BASE_GREY);
        assert_eq!(c.of("vanilla"), PALETTE[0]);
        assert_eq!(c.portion(1), PALETTE[2]);
        assert_eq!(c.of("unknown"), BASE_GREY);
        let many: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let c = Colours::new(None, many.iter().map(String::as_str));
        let mut seen: Vec<RGBColor> = many.iter().map(|l| c.of(l)).collect();
        seen.sort_by_key(|c| (c.0, c.1, c.2));
        seen.dedup();
        assert_eq!(seen.len(), 40, "every label its own colour");
    }

    #[test]
    fn report_ranges_are_padded_and_never_empty() {
        assert_eq!(padded_range([1.0, 3.0], 0.5), Some((0.0, 4.0)));
        assert_eq!(padded_range([f64::NAN], 0.1), None);
        let (lo, hi) = padded_range([2.0, 2.0], 0.1).unwrap();
        assert!(lo < 2.0 && hi > 2.0);
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
