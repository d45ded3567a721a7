//! A clickable row of text cells for long virtual lists (the data table, the issue list): the
//! cells are painted, not laid out as widgets, each cut to its width with "…", so a row costs a
//! few galleys however long its text, and the row is one accessible, selectable item.

use eframe::egui::{self, text::LayoutJob, Align2, Color32, FontId, Rect, Response, Role, Sense, TextFormat, Vec2, WidgetInfo};

/// Padding inside a cell, each side, in points.
const PAD: f32 = 4.0;

/// One cell of a row.
#[derive(Debug, Clone)]
pub struct Cell<'a> {
    /// The text (one line; cut to the width).
    pub text: &'a str,
    /// Width in points, padding included.
    pub width: f32,
    /// Colour; `None` is the row's text colour.
    pub color: Option<Color32>,
    /// Right-aligned (numbers).
    pub right: bool,
}

impl<'a> Cell<'a> {
    /// A left-aligned cell in the row's colour.
    pub fn new(text: &'a str, width: f32) -> Self {
        Self { text, width, color: None, right: false }
    }

    /// The cell right-aligned.
    pub fn right(mut self) -> Self {
        self.right = true;
        self
    }

    /// The cell in `color`.
    pub fn color(mut self, color: Color32) -> Self {
        self.color = Some(color);
        self
    }
}

/// Paints `cells` side by side in `rect`, each cut to its width.
pub fn paint_cells(ui: &egui::Ui, rect: Rect, cells: &[Cell<'_>], font: &FontId, default_color: Color32) {
    let painter = ui.painter().with_clip_rect(rect.intersect(ui.clip_rect()));
    let mut x = rect.left();
    for cell in cells.iter().filter(|c| c.width > 0.0) {
        let inner = (cell.width - 2.0 * PAD).max(1.0);
        let color = cell.color.unwrap_or(default_color);
        let mut job = LayoutJob::single_section(cell.text.to_string(), TextFormat::simple(font.clone(), color));
        job.wrap = egui::text::TextWrapping::truncate_at_width(inner);
        let galley = painter.layout_job(job);
        let (anchor, at) = if cell.right {
            (Align2::RIGHT_CENTER, egui::pos2(x + cell.width - PAD, rect.center().y))
        } else {
            (Align2::LEFT_CENTER, egui::pos2(x + PAD, rect.center().y))
        };
        let pos = anchor.anchor_size(at, galley.size()).min;
        painter.galley(pos, galley, color);
        x += cell.width;
    }
}

/// A full-width row of `height` points: highlighted when `selected` or hovered, clickable, and
/// named `label` for screen readers and tests.
pub fn clickable_row(ui: &mut egui::Ui, height: f32, selected: bool, label: impl Fn() -> String, cells: &[Cell<'_>]) -> Response {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(ui.available_width(), height), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::Row, ui.is_enabled(), selected, label()));
    if ui.is_rect_visible(rect) {
        let visuals = ui.style().interact_selectable(&response, selected);
        if selected {
            ui.painter().rect_filled(rect, 2.0, ui.visuals().selection.bg_fill);
        } else if response.hovered() {
            ui.painter().rect_filled(rect, 2.0, ui.visuals().widgets.hovered.weak_bg_fill);
        }
        let font = egui::TextStyle::Body.resolve(ui.style());
        paint_cells(ui, rect, cells, &font, visuals.text_color());
    }
    response
}

/// Column headers over rows of the same cells.
pub fn header_row(ui: &mut egui::Ui, height: f32, cells: &[Cell<'_>]) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(ui.available_width(), height), Sense::hover());
    if ui.is_rect_visible(rect) {
        let font = egui::TextStyle::Body.resolve(ui.style());
        paint_cells(ui, rect, cells, &font, ui.visuals().strong_text_color());
        let y = rect.bottom() - 0.5;
        ui.painter().hline(rect.x_range(), y, ui.visuals().widgets.noninteractive.bg_stroke);
    }
}
