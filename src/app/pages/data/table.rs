//! The table of examples: line, instruction, input, output, tokens and portion, one line each.
//! Only the rows in view are drawn (`ScrollArea::show_rows`), so 100,000 rows cost what 30 do.

use super::view::DataView;
use crate::app::widgets::row::{clickable_row, header_row, Cell};
use eframe::egui;

/// What the table draws besides the view.
pub struct TableInput<'a> {
    /// The rows shown (indices into the view's rows, ascending).
    pub shown: &'a [u32],
    /// Portion of each example, when the split is known.
    pub portions: Option<(&'a [u32], &'a [egui::Color32])>,
    /// The selected example.
    pub selected: Option<usize>,
    /// Height of the table in points.
    pub height: f32,
}

/// What the user did in the table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableOutput {
    /// The example clicked.
    pub clicked: Option<usize>,
    /// Whether the scroll request was served (the example was among the rows shown).
    pub scrolled: bool,
    /// Position (among the rows shown) of the first row drawn.
    pub first_drawn: usize,
    /// Rows drawn this frame.
    pub drawn: usize,
}

/// The columns' widths for a table `width` points wide: line, instruction, input, output,
/// tokens, portion.
fn widths(width: f32, tokens: bool) -> [f32; 6] {
    let (line, tok, portion) = (64.0, if tokens { 64.0 } else { 0.0 }, 64.0);
    let text = (width - line - tok - portion).max(150.0);
    [line, text * 0.36, text * 0.18, text * 0.46, tok, portion]
}

/// Draws the table; `scroll_to` (an example) is brought into view when it is shown.
pub fn table_ui(ui: &mut egui::Ui, view: &DataView, input: &TableInput<'_>, scroll_to: Option<usize>) -> TableOutput {
    let mut out = TableOutput::default();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let w = widths(ui.available_width() - 16.0, view.tokens.is_some());
    let mut header =
        vec![Cell::new("line", w[0]).right(), Cell::new("instruction", w[1]), Cell::new("input", w[2]), Cell::new("output", w[3])];
    if view.tokens.is_some() {
        header.push(Cell::new("tokens", w[4]).right());
    }
    header.push(Cell::new("portion", w[5]).right());
    header_row(ui, row_height, &header);
    let spacing = ui.spacing().item_spacing.y;
    let mut area = egui::ScrollArea::vertical()
        .id_salt("data-table")
        .auto_shrink([false, false])
        .max_height(input.height)
        .min_scrolled_height(input.height);
    if let Some(target) = scroll_to {
        if let Ok(pos) = input.shown.binary_search(&(target as u32)) {
            let offset = pos as f32 * (row_height + spacing) - (input.height - row_height) / 2.0;
            area = area.vertical_scroll_offset(offset.max(0.0));
            out.scrolled = true;
        }
    }
    let max_len = view.histogram.as_ref().map(|h| h.max_len);
    let weak = ui.visuals().weak_text_color();
    let over_color = ui.visuals().warn_fg_color;
    area.show_rows(ui, row_height, input.shown.len(), |ui, range| {
        (out.first_drawn, out.drawn) = (range.start, range.len());
        for &i in &input.shown[range] {
            let i = i as usize;
            let row = &view.rows[i];
            let line = if row.line > 0 { row.line.to_string() } else { format!("#{}", row.record) };
            let tokens = view.tokens.as_ref().map(|t| t[i]);
            let token_text = tokens.map(|n| n.to_string()).unwrap_or_default();
            let portion = input.portions.and_then(|(a, colors)| a.get(i).map(|p| (p.to_string(), colors.get(*p as usize).copied())));
            let mut cells = vec![
                Cell::new(&line, w[0]).right().color(if row.flagged { ui.visuals().warn_fg_color } else { weak }),
                Cell::new(&row.cells[0], w[1]),
                Cell::new(&row.cells[1], w[2]),
                Cell::new(&row.cells[2], w[3]),
            ];
            if tokens.is_some() {
                let mut cell = Cell::new(&token_text, w[4]).right();
                if tokens.zip(max_len).is_some_and(|(n, m)| n > m) {
                    cell = cell.color(over_color);
                }
                cells.push(cell);
            }
            let mut cell = Cell::new(portion.as_ref().map_or("", |p| p.0.as_str()), w[5]).right();
            if let Some(color) = portion.as_ref().and_then(|p| p.1) {
                cell = cell.color(color);
            }
            cells.push(cell);
            let selected = input.selected == Some(i);
            let label = || format!("line {line}: {}", row.cells[0]);
            if clickable_row(ui, row_height, selected, label, &cells).clicked() {
                out.clicked = Some(i);
            }
        }
    });
    out
}
