//! `dtm-studio bench gui`: the CPU time of one frame of the whole window on the Disperse page
//! with N points on the map, drawn headless (egui's layout and tessellation; the GPU upload of
//! a real window is not included). The pointer sweeps the map (hover lookups) for the first half
//! of the frames and drags it (a new mesh every frame) for the second half. With `background`,
//! k-means runs on a worker meanwhile, with its events drained by the window as in a real run.
//! With `--page train`, the Train page with synthetic loss curves instead ([`measure_train`]).

use super::open::StartRequest;
use super::pages::disperse::map_data::MapData;
use super::pages::Page;
use super::settings::Settings;
use super::studio::StudioApp;
use super::task::Job;
use crate::engine::cluster::bench::normal_points;
use crate::engine::cluster::{kmeans, KMeansOptions};
use eframe::egui;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct GuiBenchOptions {
    /// Points on the map.
    pub points: usize,
    /// Portions.
    pub k: usize,
    /// Frames measured (after 10 warm-up frames).
    pub frames: usize,
    /// Run k-means on a worker while measuring.
    pub background: bool,
    /// Window size in points.
    pub size: [f32; 2],
}

/// One `bench gui` line.
#[derive(Debug, Clone, Serialize)]
pub struct GuiBenchFigure {
    /// Always "gui".
    pub what: &'static str,
    /// Points on the map.
    pub points: usize,
    /// Frames measured.
    pub frames: usize,
    /// Whether k-means ran meanwhile.
    pub background: bool,
    /// Median UI-thread CPU time of a frame, ms.
    pub frame_ms_median: f64,
    /// 95th percentile of it, ms.
    pub frame_ms_p95: f64,
    /// Median while the pointer only hovers (the mesh is reused), ms.
    pub hover_ms_median: f64,
    /// Median while the map is dragged (a new mesh every frame), ms.
    pub pan_ms_median: f64,
    /// Median wall-clock time of a frame, ms (includes waiting for a core when busy).
    pub wall_ms_median: f64,
    /// Frames in which a point was under the pointer (the hover did run).
    pub hover_hits: usize,
    /// Background k-means runs finished during the measurement.
    pub background_runs: usize,
}

/// What to measure on the Train page.
#[derive(Debug, Clone)]
pub struct TrainBenchOptions {
    /// Runs on the loss chart.
    pub runs: usize,
    /// Logged steps per run.
    pub points: usize,
    /// Frames measured (after 10 warm-up frames).
    pub frames: usize,
    /// Window size in points.
    pub size: [f32; 2],
}

/// One `bench gui --page train` line.
#[derive(Debug, Clone, Serialize)]
pub struct TrainBenchFigure {
    /// Always "gui-train".
    pub what: &'static str,
    /// Runs on the chart.
    pub runs: usize,
    /// Points per run.
    pub points: usize,
    /// Frames measured.
    pub frames: usize,
    /// Median UI-thread CPU time of a frame, ms.
    pub frame_ms_median: f64,
    /// 95th percentile of it, ms.
    pub frame_ms_p95: f64,
    /// Median wall-clock time of a frame, ms.
    pub wall_ms_median: f64,
}

/// Draws the Train page with `runs` synthetic loss curves of `points` steps each (smoothing on,
/// validation points, the ratio charts) while the pointer sweeps over the loss chart, and
/// measures the UI thread's CPU time per frame.
pub fn measure_train(opts: &TrainBenchOptions) -> TrainBenchFigure {
    use super::pages::train::curves::RunCurve;
    let ctx = egui::Context::default();
    let mut app = StudioApp::new(&ctx, Settings { last_project: None, ..Settings::default() }, StartRequest::default());
    app.page = Page::Train;
    let curves = (0..opts.runs)
        .map(|i| (if i == 0 { "vanilla".to_string() } else { format!("sub-{}", i - 1) }, RunCurve::synthetic(opts.points as u64, i as u64)))
        .collect();
    app.pages.train.show_curves(curves);
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(opts.size[0], opts.size[1]));
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    let warmup = 10;
    for frame in 0..warmup + opts.frames {
        let t = frame as f32 / (warmup + opts.frames).max(1) as f32;
        let pos = egui::pos2(300.0 + 800.0 * (t * 5.0).fract(), 200.0 + 200.0 * (t * 3.0).fract());
        let input = egui::RawInput { screen_rect: Some(screen), events: vec![egui::Event::PointerMoved(pos)], ..Default::default() };
        let (c0, w0) = (thread_cpu_seconds(), Instant::now());
        let mut output = ctx.run_ui(input, |ui| app.frame_ui(ui));
        output.textures_delta.clear();
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        if frame >= warmup {
            cpu.push((thread_cpu_seconds() - c0) * 1e3);
            wall.push(w0.elapsed().as_secs_f64() * 1e3);
        }
    }
    TrainBenchFigure {
        what: "gui-train",
        runs: opts.runs,
        points: opts.points,
        frames: opts.frames,
        frame_ms_median: median(&mut cpu.clone()),
        frame_ms_p95: percentile(&mut cpu, 0.95),
        wall_ms_median: median(&mut wall),
    }
}

/// CPU time of this thread, in seconds.
pub(crate) fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

/// The `q` quantile of `v` (sorted in place; 0 when empty).
pub(crate) fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Runs the measurement.
pub fn measure(opts: &GuiBenchOptions) -> GuiBenchFigure {
    let ctx = egui::Context::default();
    let mut app = StudioApp::new(&ctx, Settings { last_project: None, ..Settings::default() }, StartRequest::default());
    app.page = Page::Disperse;
    app.pages.disperse.show_map(MapData::synthetic(opts.points, opts.k, 0));
    let background = opts.background.then(|| {
        let n = opts.points.min(50_000);
        Job::spawn("disperse", &ctx, &mut app.activity, move |sink, cancel| {
            let x = normal_points(n, 384, 1);
            let kopts = KMeansOptions { k: 8, seed: 0, n_init: 3, max_iter: 300, tol: 1e-4 };
            let mut runs = 0;
            while kmeans(&x, 384, &kopts, sink, cancel).is_ok() {
                runs += 1;
            }
            runs
        })
    });
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(opts.size[0], opts.size[1]));
    let (mut cpu, mut wall, mut hover, mut pan) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut hover_hits = 0;
    let warmup = 10;
    for frame in 0..warmup + opts.frames {
        let measured = frame >= warmup;
        let i = frame.saturating_sub(warmup);
        let panning = measured && i >= opts.frames / 2;
        let t = i as f32 / opts.frames.max(1) as f32;
        let pos = egui::pos2(300.0 + 500.0 * (t * 7.0).fract(), 260.0 + 220.0 * (t * 3.0).fract());
        let mut events = vec![egui::Event::PointerMoved(pos)];
        if panning && i == opts.frames / 2 {
            events.push(egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: true,
                modifiers: Default::default(),
            });
        }
        let input = egui::RawInput { screen_rect: Some(screen), events, ..Default::default() };
        let (c0, w0) = (thread_cpu_seconds(), Instant::now());
        let mut output = ctx.run_ui(input, |ui| app.frame_ui(ui));
        output.textures_delta.clear();
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        let (c, w) = ((thread_cpu_seconds() - c0) * 1e3, w0.elapsed().as_secs_f64() * 1e3);
        if measured {
            cpu.push(c);
            wall.push(w);
            if panning {
                pan.push(c)
            } else {
                hover.push(c)
            }
            hover_hits += usize::from(app.pages.disperse.hovered.is_some());
        }
    }
    let background_runs = match background {
        Some(mut job) => {
            job.cancel();
            loop {
                if let Some(r) = job.poll() {
                    break r.unwrap_or(0);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        None => 0,
    };
    GuiBenchFigure {
        what: "gui",
        points: opts.points,
        frames: opts.frames,
        background: opts.background,
        frame_ms_median: median(&mut cpu.clone()),
        frame_ms_p95: percentile(&mut cpu, 0.95),
        hover_ms_median: median(&mut hover),
        pan_ms_median: median(&mut pan),
        wall_ms_median: median(&mut wall),
        hover_hits,
        background_runs,
    }
}
