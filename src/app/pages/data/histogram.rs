//! The token-length histogram: examples per length, the bins past the maximum length in the
//! warning colour, the cut as a vertical line in the error colour, and what it truncates in words.

use super::lengths::LengthHistogram;
use eframe::egui::{self, RichText};
use egui_plot::{Bar, BarChart, Legend, Plot, VLine};

/// Draws the histogram `width` points wide; `source` says where the maximum length comes from.
pub fn histogram_ui(ui: &mut egui::Ui, h: &LengthHistogram, source: &str, width: f32) {
    let fits = ui.visuals().selection.bg_fill;
    let cut = ui.visuals().warn_fg_color;
    let line = ui.visuals().error_fg_color;
    let (mut inside, mut over) = (Vec::new(), Vec::new());
    for (i, &n) in h.counts.iter().enumerate().filter(|(_, &n)| n > 0) {
        let start = i * h.bin_width;
        let bar = Bar::new(start as f64 + h.bin_width as f64 / 2.0, n as f64)
            .width(h.bin_width as f64 * 0.9)
            .name(format!("{start}–{} tokens", start + h.bin_width - 1));
        if start + h.bin_width > h.max_len + 1 {
            over.push(bar.fill(cut));
        } else {
            inside.push(bar.fill(fits));
        }
    }
    let max_len = h.max_len as f64;
    Plot::new("token-lengths")
        .height(190.0)
        .width(width)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(0.0)
        .include_x(max_len * 1.05)
        .include_y(0.0)
        .legend(Legend::default())
        .x_axis_label("tokens (prompt + response)")
        .y_axis_label("examples")
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("examples", inside).color(fits));
            if !over.is_empty() {
                plot.bar_chart(BarChart::new("truncated", over).color(cut));
            }
            plot.vline(VLine::new(format!("max length {}", h.max_len), max_len).color(line).width(2.0));
        });
    ui.label(format!("median {} tokens · longest {} · maximum length {} ({source})", h.median, h.longest, h.max_len));
    let summary = h.cut_summary();
    if h.over > 0 {
        ui.label(RichText::new(summary).color(cut));
    } else {
        ui.label(summary);
    }
}
