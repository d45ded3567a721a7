//! Work off the UI thread: a [`Task`] computes one value on a worker thread; a [`Job`] is a task
//! that runs an engine stage with an event sink and a cancel token, its events going to the
//! [`Activity`](super::activity::Activity) that the log and the status bar show.

use super::activity::Activity;
use crate::engine::job::{CancelToken, EventSink};
use crossbeam_channel::{bounded, Receiver, TryRecvError};
use eframe::egui;

/// A value being computed on a worker thread. The UI polls it once per frame; the worker asks
/// for a repaint when it is done.
pub struct Task<T> {
    rx: Receiver<T>,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `work` on a new thread named `name`.
    pub fn spawn(name: &str, ctx: &egui::Context, work: impl FnOnce() -> T + Send + 'static) -> Self {
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            let _ = tx.send(work());
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            // Without a thread the task never ends; say so in the log rather than hang silently.
            tracing::error!("could not start a worker thread for {name}: {e}");
        }
        Self { rx }
    }

    /// The value once it is ready (exactly once), else `None`. A worker that panicked ends the
    /// task with `Err` carrying what to tell the user.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        match self.rx.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("the worker thread stopped unexpectedly (see the terminal for the panic)".into())),
        }
    }
}

/// An engine stage running on a worker thread, cancellable.
pub struct Job<T> {
    task: Task<T>,
    cancel: CancelToken,
    /// What the job does, for buttons and the log ("disperse", "load model").
    pub label: String,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` with a fresh sink and token; its events go to `activity`.
    pub fn spawn(
        label: &str,
        ctx: &egui::Context,
        activity: &mut Activity,
        work: impl FnOnce(&EventSink, &CancelToken) -> T + Send + 'static,
    ) -> Self {
        let (sink, events) = EventSink::channel();
        activity.attach(label, events, ctx);
        let cancel = CancelToken::new();
        let token = cancel.clone();
        let task = Task::spawn(label, ctx, move || work(&sink, &token));
        Self { task, cancel, label: label.to_string() }
    }

    /// Asks the job to stop at its next check; it ends with its stage's `Cancelled` error.
    pub fn cancel(&self) {
        self.cancel.cancel("stopped from the window");
    }

    /// Whether a stop was asked for.
    pub fn is_cancelling(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The result once the job ended.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        self.task.poll()
    }
}
