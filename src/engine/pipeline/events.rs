//! Typed events that stages report while they work.

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// Something a stage reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Work advanced: `step` of `total` units (`total` 0 when unknown).
    Progress {
        /// Stage name, e.g. "embed", "train sub-0".
        stage: String,
        /// Units done.
        step: u64,
        /// Units in all.
        total: u64,
        /// Short extra text, e.g. "loss 1.92, 812 tok/s".
        detail: String,
    },
    /// A training loss point.
    Loss {
        /// Which run (e.g. "vanilla", "sub-2").
        run: String,
        /// Optimiser step.
        step: u64,
        /// Training loss at this step, if logged.
        train: Option<f64>,
        /// Validation loss at this step, if evaluated.
        val: Option<f64>,
    },
    /// A line for the log.
    Log(String),
    /// A stage finished.
    StageDone {
        /// Stage name.
        stage: String,
    },
    /// A stage failed; what it had written stays valid.
    Failed {
        /// Stage name.
        stage: String,
        /// What went wrong.
        message: String,
    },
}

/// Where a stage sends events. Progress is dropped when the channel is full (the receiver is
/// behind and a newer one follows); other events wait for room.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<Sender<Event>>,
}

impl EventSink {
    /// A bounded channel and its sink.
    pub fn channel(capacity: usize) -> (Self, Receiver<Event>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (Self { tx: Some(tx) }, rx)
    }

    /// A sink that discards everything (library use, tests).
    pub fn discard() -> Self {
        Self { tx: None }
    }

    /// Sends an event; never fails the stage if nobody listens any more.
    pub fn send(&self, event: Event) {
        let Some(tx) = &self.tx else { return };
        match event {
            Event::Progress { .. } => match tx.try_send(event) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            },
            other => {
                let _ = tx.send(other);
            }
        }
    }

    /// Shorthand for a progress event.
    pub fn progress(&self, stage: &str, step: u64, total: u64, detail: impl Into<String>) {
        self.send(Event::Progress { stage: stage.to_string(), step, total, detail: detail.into() });
    }

    /// Shorthand for a log line.
    pub fn log(&self, line: impl Into<String>) {
        self.send(Event::Log(line.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_dropped_when_full_but_logs_are_not_lost() {
        let (sink, rx) = EventSink::channel(2);
        for i in 0..5 {
            sink.progress("embed", i, 5, "");
        }
        assert_eq!(rx.len(), 2);
        rx.try_recv().unwrap();
        sink.log("hello");
        let drained: Vec<Event> = rx.try_iter().collect();
        assert!(drained.contains(&Event::Log("hello".into())));
    }

    #[test]
    fn discard_sink_accepts_everything() {
        EventSink::discard().log("nothing listens");
    }
}
