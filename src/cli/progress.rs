//! The command line's one renderer of engine events: a progress bar per running stage on
//! stderr (plain lines when stderr is not a terminal), log lines above the bars, and Ctrl-C
//! turned into the engine's cancellation.

use crate::engine::job::{CancelToken, Event, EventReceiver, EventSink, LogLevel};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The token Ctrl-C cancels (installed once per process): the stage running stops at its next
/// check, a training run writes its checkpoint, and the command ends with exit code 130.
pub fn interrupt_token() -> &'static CancelToken {
    static TOKEN: OnceLock<CancelToken> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let token = CancelToken::new();
        let on_signal = token.clone();
        if let Err(e) = ctrlc::set_handler(move || on_signal.cancel("interrupted (Ctrl-C)")) {
            eprintln!("warning: Ctrl-C cannot stop the work cleanly here ({e})");
        }
        token
    })
}

/// Runs `work` with an event sink whose events are drawn on stderr and with the Ctrl-C token;
/// returns what `work` returns once every event is drawn.
pub fn with_progress<T>(work: impl FnOnce(&EventSink, &CancelToken) -> T) -> T {
    let (sink, rx) = EventSink::channel();
    let renderer = std::thread::Builder::new().name("progress".into()).spawn(move || render(&rx));
    let out = work(&sink, interrupt_token());
    drop(sink);
    if let Ok(handle) = renderer {
        let _ = handle.join();
    }
    out
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta}) {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn log_line(level: LogLevel, line: &str) -> String {
    match level {
        LogLevel::Info => line.to_string(),
        LogLevel::Warning => format!("warning: {line}"),
    }
}

fn render(rx: &EventReceiver) {
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
            Event::Log { level, line } => {
                let _ = multi.println(log_line(level, &line));
            }
            Event::StageDone { stage, .. } => {
                if let Some(b) = bars.remove(&stage) {
                    b.finish();
                }
            }
            Event::Cancelled { stage, reason } => {
                if let Some(b) = bars.remove(&stage) {
                    b.abandon();
                }
                let _ = multi.println(format!("{stage} stopped: {reason}"));
            }
            Event::Failed { stage, .. } => {
                if let Some(b) = bars.remove(&stage) {
                    b.abandon();
                }
            }
            Event::StageStarted { .. } | Event::Loss { .. } => {}
        }
    }
    for (_, b) in bars {
        b.finish();
    }
}

/// Without a terminal (logs, CI): log lines as they come, progress about every 10%.
fn render_plain(rx: &EventReceiver) {
    let mut last_tenth: HashMap<String, u64> = HashMap::new();
    for event in rx.iter() {
        match event {
            Event::Progress { stage, step, total, detail } => {
                let tenth = (step * 10).checked_div(total).unwrap_or(step);
                if last_tenth.insert(stage.clone(), tenth) != Some(tenth) {
                    eprintln!("{stage}: {step}/{total} {detail}");
                }
            }
            Event::Log { level, line } => eprintln!("{}", log_line(level, &line)),
            Event::StageStarted { stage } => {
                last_tenth.remove(&stage);
            }
            Event::Cancelled { stage, reason } => eprintln!("{stage} stopped: {reason}"),
            Event::StageDone { .. } | Event::Failed { .. } | Event::Loss { .. } => {}
        }
    }
}
