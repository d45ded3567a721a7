//! Cancellation: a shared flag with a reason that stages check between units of work, and
//! [`Cancelled`], the one result every stage returns when it stops because of it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Cloneable handle; cancelling any clone cancels all.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    reason: Arc<Mutex<Option<String>>>,
}

/// A stage stopped because its [`CancelToken`] was cancelled. Every stage's error type carries
/// this one value (see [`super::StageError`]); what the stage had finished stays valid, and a
/// training run leaves a checkpoint to resume from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cancelled: {reason}")]
pub struct Cancelled {
    /// Why, as given to [`CancelToken::cancel`].
    pub reason: String,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder to stop at its next check. The first reason given is kept.
    pub fn cancel(&self, reason: &str) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert_with(|| reason.to_string());
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Why it was cancelled, if it was.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    /// `Err(Cancelled)` once cancellation was asked for; stages call it between units of work
    /// (a batch, a tensor, a micro-batch) with `?`.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            return Err(Cancelled { reason: self.reason().unwrap_or_else(|| "cancelled".into()) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_first_reason_wins() {
        let a = CancelToken::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        assert_eq!(b.check(), Ok(()));
        a.cancel("user pressed Ctrl-C");
        b.cancel("second");
        assert!(b.is_cancelled());
        assert_eq!(b.reason().as_deref(), Some("user pressed Ctrl-C"));
        assert_eq!(b.check(), Err(Cancelled { reason: "user pressed Ctrl-C".into() }));
    }
}
