//! How the Data page holds up with many rows: the time of one search over all rows (what the
//! worker does once per query change) and the UI-thread CPU time of a frame of the whole window
//! on the Data page, headless, while the table scrolls.

use super::filter::{matching_rows, Query};
use super::view::DataView;
use crate::app::bench::{percentile, thread_cpu_seconds};
use crate::app::open::StartRequest;
use crate::app::pages::Page;
use crate::app::settings::Settings;
use crate::app::studio::StudioApp;
use eframe::egui;
use std::time::Instant;

/// What one measurement found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataBenchFigure {
    /// Rows in the table.
    pub rows: usize,
    /// Building the view from the examples (worker), ms.
    pub build_ms: f64,
    /// One search over every row (worker), ms: the median over a few queries.
    pub search_ms: f64,
    /// Rows the searches matched, summed (so the work is not optimised away).
    pub matched: usize,
    /// Frames measured.
    pub frames: usize,
    /// Median UI-thread CPU time of a frame while the table scrolls, ms.
    pub frame_ms_median: f64,
    /// 95th percentile of it, ms.
    pub frame_ms_p95: f64,
    /// Whether the table listed every row while it scrolled (the search was empty).
    pub all_rows_listed: bool,
    /// The table's first row drawn in the last frame (it moved: the wheel scrolled the table).
    pub top_row_at_end: usize,
    /// Rows drawn in the last frame (what fits, not all).
    pub rows_drawn: usize,
}

/// Measures the page with `rows` synthetic rows over `frames` frames.
pub fn measure(rows: usize, frames: usize) -> DataBenchFigure {
    let t = Instant::now();
    let view = DataView::synthetic(rows);
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::new();
    let mut matched = 0;
    for text in ["river", "colour 4", "zzz-nowhere", "Poem Number"] {
        let t = Instant::now();
        matched += matching_rows(&view.rows, &Query { text: text.into(), flagged_only: false }).len();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let search_ms = percentile(&mut times, 0.5);

    let ctx = egui::Context::default();
    let mut app = StudioApp::new(&ctx, Settings { last_project: None, ..Settings::default() }, StartRequest::default());
    app.page = Page::Data;
    app.pages.data.show_view(view);
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 900.0));
    let mut cpu = Vec::new();
    let warmup = 5;
    for frame in 0..warmup + frames {
        // Over the table: the wheel scrolls it by a few rows each frame.
        let pos = egui::pos2(500.0, 700.0);
        let wheel = egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -90.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: Default::default(),
        };
        let events = vec![egui::Event::PointerMoved(pos), wheel];
        let input = egui::RawInput { screen_rect: Some(screen), events, ..Default::default() };
        let c0 = thread_cpu_seconds();
        let mut output = ctx.run_ui(input, |ui| app.frame_ui(ui));
        output.textures_delta.clear();
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        if frame >= warmup {
            cpu.push((thread_cpu_seconds() - c0) * 1e3);
        }
    }
    DataBenchFigure {
        rows,
        build_ms,
        search_ms,
        matched,
        frames,
        frame_ms_median: percentile(&mut cpu.clone(), 0.5),
        frame_ms_p95: percentile(&mut cpu, 0.95),
        all_rows_listed: app.pages.data.filter.shown().len() == rows,
        top_row_at_end: app.pages.data.drawn_rows.0,
        rows_drawn: app.pages.data.drawn_rows.1,
    }
}
