//! Renders the engine's events as terminal progress bars (one per stage) on a helper thread, so
//! every headless command shows the same progress the GUI does.

use crate::engine::pipeline::{Event, EventSink};
use crossbeam_channel::Receiver;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;

/// Runs `work` with an event sink whose events are drawn as progress bars on stderr; log lines
/// are printed above the bars. Returns what `work` returns once every bar is finished.
pub fn with_progress<T>(work: impl FnOnce(&EventSink) -> T) -> T {
    let (sink, rx) = EventSink::channel(256);
    let renderer = std::thread::Builder::new().name("progress".into()).spawn(move || render(rx));
    let out = work(&sink);
    drop(sink);
    if let Ok(handle) = renderer {
        let _ = handle.join();
    }
    out
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta}) {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn render(rx: Receiver<Event>) {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return render_plain(rx);
    }
    let multi = MultiProgress::new();
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    for event in rx.iter() {
        match event {
            Event::Progress { stage, step, total, detail } => {
                let bar = bars.entry(stage.clone()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(total));
                    b.set_style(bar_style());
                    b.set_prefix(stage.clone());
                    b
                });
                if bar.length() != Some(total) {
                    bar.set_length(total);
                }
                bar.set_position(step);
                bar.set_message(detail);
            }
            Event::Log(line) => {
                let _ = multi.println(line);
            }
            Event::StageDone { stage } => {
                if let Some(b) = bars.remove(&stage) {
                    b.finish();
                }
            }
            Event::Failed { stage, message } => {
                if let Some(b) = bars.remove(&stage) {
                    b.abandon();
                }
                let _ = multi.println(format!("{stage} failed: {message}"));
            }
            _ => {}
        }
    }
    for (_, b) in bars {
        b.finish();
    }
}

/// Without a terminal (logs, CI): log lines as they come, progress about every 10%.
fn render_plain(rx: Receiver<Event>) {
    let mut last_tenth: HashMap<String, u64> = HashMap::new();
    for event in rx.iter() {
        match event {
            Event::Progress { stage, step, total, detail } => {
                let tenth = if total > 0 { step * 10 / total } else { step };
                if last_tenth.insert(stage.clone(), tenth) != Some(tenth) {
                    eprintln!("{stage}: {step}/{total} {detail}");
                }
            }
            Event::Log(line) => eprintln!("{line}"),
            Event::Failed { stage, message } => eprintln!("{stage} failed: {message}"),
            _ => {}
        }
    }
}
