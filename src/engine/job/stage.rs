//! The contract every stage follows. A stage is a function
//! `fn(&Request, &EventSink, &CancelToken) -> Result<Outcome, Error>` whose body runs inside
//! [`run_stage`]: that sends `StageStarted`, then exactly one of `StageDone`, `Cancelled` or
//! `Failed`, and afterwards hands the memory the stage freed back to the system. The stage
//! reports `Progress` through [`StageScope::progress`], ending at its total, and calls
//! [`CancelToken::check`] between units of work of at most about a second.

use super::cancel::{CancelToken, Cancelled};
use super::events::{Event, EventSink};
use std::time::Instant;

/// An error type of a stage: it says whether the stage was cancelled rather than failed. Every
/// stage's error enum has a variant holding [`Cancelled`], and errors of inner stages (a model
/// load inside training) pass it through.
pub trait StageError: std::error::Error {
    /// The cancellation, when this error is one.
    fn cancelled(&self) -> Option<&Cancelled>;
}

/// Implements [`StageError`] for a stage's error enum: its `Cancelled` variant is the
/// cancellation, and the variants listed after the type wrap errors of inner stages that may
/// carry one (`impl_stage_error!(TrainError, Model, Dataset)`).
macro_rules! impl_stage_error {
    ($error:ident $(, $inner:ident)*) => {
        impl $crate::engine::job::StageError for $error {
            fn cancelled(&self) -> Option<&$crate::engine::job::Cancelled> {
                match self {
                    $error::Cancelled(c) => Some(c),
                    $($error::$inner(e) => $crate::engine::job::StageError::cancelled(e),)*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use impl_stage_error;

impl StageError for Cancelled {
    fn cancelled(&self) -> Option<&Cancelled> {
        Some(self)
    }
}

/// What a running stage reports through: its name, the sink and the token.
#[derive(Debug, Clone, Copy)]
pub struct StageScope<'a> {
    /// Stage name used in every event.
    pub name: &'a str,
    /// Where events go.
    pub sink: &'a EventSink,
    /// Checked between units of work.
    pub cancel: &'a CancelToken,
}

impl StageScope<'_> {
    /// Reports `step` of `total` units.
    pub fn progress(&self, step: u64, total: u64, detail: impl Into<String>) {
        self.sink.progress(self.name, step, total, detail);
    }

    /// `Err(Cancelled)` once cancellation was asked for.
    pub fn check(&self) -> Result<(), Cancelled> {
        self.cancel.check()
    }

    /// An informational log line.
    pub fn log(&self, line: impl Into<String>) {
        self.sink.log(line);
    }

    /// A warning.
    pub fn warn(&self, line: impl Into<String>) {
        self.sink.warn(line);
    }
}

/// Runs one stage: announces it, runs `work`, reports how it ended, then returns freed memory to
/// the system (a long-lived app must not stay at a stage's peak).
pub fn run_stage<T, E: StageError>(
    name: &str,
    sink: &EventSink,
    cancel: &CancelToken,
    work: impl FnOnce(StageScope<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let started = Instant::now();
    sink.send(Event::StageStarted { stage: name.to_string() });
    let result = work(StageScope { name, sink, cancel });
    crate::engine::memory::release_freed_memory();
    let stage = name.to_string();
    match &result {
        Ok(_) => sink.send(Event::StageDone { stage, seconds: started.elapsed().as_secs_f64() }),
        Err(e) => match e.cancelled() {
            Some(c) => sink.send(Event::Cancelled { stage, reason: c.reason.clone() }),
            None => sink.send(Event::Failed { stage, message: e.to_string() }),
        },
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_sends_started_then_one_end() {
        let (sink, rx) = EventSink::channel();
        let cancel = CancelToken::new();
        let ok: Result<u32, Cancelled> = run_stage("s", &sink, &cancel, |scope| {
            scope.progress(1, 1, "");
            Ok(7)
        });
        assert_eq!(ok, Ok(7));
        cancel.cancel("stop");
        let stopped: Result<(), Cancelled> = run_stage("t", &sink, &cancel, |scope| scope.check());
        assert!(stopped.is_err());
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got[0], Event::StageStarted { stage: "s".into() });
        assert!(matches!(&got[2], Event::StageDone { stage, .. } if stage == "s"));
        assert_eq!(got[3], Event::StageStarted { stage: "t".into() });
        assert_eq!(got[4], Event::Cancelled { stage: "t".into(), reason: "stop".into() });
    }
}
