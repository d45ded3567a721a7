//! The drawing backend of the charts: plotters' in-memory bitmap, with text set by `ab_glyph`
//! from an embedded DejaVu Sans (so no system font library is needed at run time).
//!
//! Text goes through this wrapper rather than plotters' own `ab_glyph` feature because plotters
//! 0.3.7 places each glyph without its side bearing, which visibly misspaces "s.e." and
//! "sub-0"; here every glyph sits at its advance plus kerning plus bearing.

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};
use std::sync::OnceLock;

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The embedded font, parsed once; `None` if the file were not a font.
pub fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok()).as_ref()
}

/// A line of text laid out at `size_px` (the height from descender to ascender): each glyph
/// with its pen position, the advance width and the height.
struct Line {
    glyphs: Vec<ab_glyph::Glyph>,
    width: f32,
    height: f32,
}

fn layout(font: &FontRef<'static>, size_px: f32, text: &str) -> Line {
    let scale = PxScale::from(size_px);
    let scaled = font.as_scaled(scale);
    let ascent = scaled.ascent();
    let mut caret = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(caret, ascent)));
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    Line { glyphs, width: caret, height: ascent - scaled.descent() }
}

/// plotters' bitmap backend with text drawn by [`layout`].
pub struct Canvas<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> Canvas<'a> {
    /// Draws into `rgb` (8-bit RGB, `width_px * height_px * 3` bytes).
    pub fn new(rgb: &'a mut [u8], (width_px, height_px): (u32, u32)) -> Self {
        Self { inner: BitMapBackend::with_buffer(rgb, (width_px, height_px)) }
    }
}

type Error<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

fn no_font<E: std::error::Error + Send + Sync>() -> DrawingErrorKind<E> {
    DrawingErrorKind::FontError("the embedded font assets/fonts/DejaVuSans.ttf could not be parsed".into())
}

impl<'a> DrawingBackend for Canvas<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), Error<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Error<'a>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Error<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Result<(), Error<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, path: I, style: &S) -> Result<(), Error<'a>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(&mut self, center: BackendCoord, radius: u32, style: &S, fill: bool) -> Result<(), Error<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, vert: I, style: &S) -> Result<(), Error<'a>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<(), Error<'a>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(&self, text: &str, style: &T) -> Result<(u32, u32), Error<'a>> {
        let font = font().ok_or_else(no_font)?;
        let line = layout(font, style.size() as f32, text);
        let (w, h) = (line.width.ceil() as u32, line.height.ceil() as u32);
        Ok(match style.transform() {
            FontTransform::Rotate90 | FontTransform::Rotate270 => (h, w),
            _ => (w, h),
        })
    }

    fn draw_text<T: BackendTextStyle>(&mut self, text: &str, style: &T, pos: BackendCoord) -> Result<(), Error<'a>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let font = font().ok_or_else(no_font)?;
        let line = layout(font, style.size() as f32, text);
        let (w, h) = (line.width.round() as i32, line.height.round() as i32);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -w / 2,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        let mut pixels: Vec<(BackendCoord, f32)> = Vec::new();
        for glyph in line.glyphs {
            let Some(outline) = font.outline_glyph(glyph) else { continue };
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x.round() as i32 + dx, bounds.min.y.round() as i32 + dy);
            outline.draw(|gx, gy, coverage| {
                if coverage > 0.0 {
                    let (x, y) = transform.transform(x0 + gx as i32, y0 + gy as i32);
                    pixels.push(((pos.0 + x, pos.1 + y), coverage.min(1.0)));
                }
            });
        }
        for (p, coverage) in pixels {
            self.inner.draw_pixel(p, BackendColor { alpha: color.alpha * f64::from(coverage), rgb: color.rgb })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_layout_uses_advances_and_the_embedded_font() {
        let font = font().expect("the embedded font parses");
        let one = layout(font, 20.0, "s").width;
        let two = layout(font, 20.0, "ss").width;
        assert!((two - 2.0 * one).abs() < 0.01 && one > 5.0, "{one} {two}");
        assert!((layout(font, 20.0, "Ag").height - 20.0).abs() < 1.0);
        let mut rgb = vec![255u8; 60 * 30 * 3];
        {
            let area = Canvas::new(&mut rgb, (60, 30)).into_drawing_area();
            area.draw(&Text::new("Hi", (2, 2), ("sans-serif", 20).into_font())).unwrap();
            assert_eq!(area.estimate_text_size("Hi", &("sans-serif", 20).into_font().color(&BLACK)).unwrap().1, 20);
        }
        assert!(rgb.iter().any(|&v| v < 100), "the text left dark pixels");
    }
}
