//! Typed events that stages report while they work, on a queue that never blocks the worker.
//!
//! A window that is minimised stops draining its events for as long as it likes; the stage must
//! go on at full speed and nothing that matters may be lost. So [`EventSink::send`] never waits:
//! progress is coalesced per stage (a newer progress event replaces the older one that has not
//! been received yet, in place, so it is never delivered after the stage's end), and every other
//! event is queued. Only log lines can be dropped, past [`MAX_QUEUED`] waiting events, and the
//! receiver then reports how many were dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// What happened (data summaries, evaluation points).
    Info,
    /// Something the user should look at (skipped rows, truncation, dropped settings).
    Warning,
}

/// Something a stage reports. Every stage sends `StageStarted`, then `Progress` (and `Loss`,
/// `Log`), then exactly one of `StageDone`, `Cancelled` or `Failed`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A stage began.
    StageStarted {
        /// Stage name, e.g. "embed", "train sub-0".
        stage: String,
    },
    /// Work advanced: `step` of `total` units (`total` 0 when unknown).
    Progress {
        /// Stage name.
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
    Log {
        /// How important it is.
        level: LogLevel,
        /// The text.
        line: String,
    },
    /// A stage finished its work.
    StageDone {
        /// Stage name.
        stage: String,
        /// Wall-clock seconds the stage took.
        seconds: f64,
    },
    /// A stage stopped because it was cancelled; what it had written stays valid.
    Cancelled {
        /// Stage name.
        stage: String,
        /// Why (the cancel token's reason).
        reason: String,
    },
    /// A stage failed; what it had written stays valid.
    Failed {
        /// Stage name.
        stage: String,
        /// What went wrong.
        message: String,
    },
}

impl Event {
    /// The stage this event ends (`StageDone`, `Cancelled`, `Failed`), if it ends one.
    pub fn ended_stage(&self) -> Option<&str> {
        match self {
            Event::StageDone { stage, .. } | Event::Cancelled { stage, .. } | Event::Failed { stage, .. } => Some(stage),
            _ => None,
        }
    }
}

/// Events waiting for the receiver beyond which new log lines are dropped (and counted).
pub const MAX_QUEUED: usize = 100_000;

struct Queue {
    events: VecDeque<Event>,
    /// Sequence number of `events[0]`.
    head_seq: u64,
    /// Per stage: the sequence number of its progress event that is still waiting.
    waiting_progress: HashMap<String, u64>,
    dropped_logs: u64,
    receiver_alive: bool,
}

type Waker = Arc<dyn Fn(&Event) + Send + Sync>;

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    senders: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a stage sends events. Sending never blocks and never fails the stage.
pub struct EventSink {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink").field("connected", &self.shared.is_some()).finish()
    }
}

impl Clone for EventSink {
    fn clone(&self) -> Self {
        if let Some(s) = &self.shared {
            s.senders.fetch_add(1, Ordering::SeqCst);
        }
        Self { shared: self.shared.clone() }
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        if let Some(s) = &self.shared {
            if s.senders.fetch_sub(1, Ordering::SeqCst) == 1 {
                // Wake a receiver blocked in `recv` so it sees that no more events come.
                let _guard = s.lock();
                s.ready.notify_all();
            }
        }
    }
}

impl EventSink {
    /// A connected sink and the receiver of its events.
    pub fn channel() -> (Self, EventReceiver) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                events: VecDeque::new(),
                head_seq: 0,
                waiting_progress: HashMap::new(),
                dropped_logs: 0,
                receiver_alive: true,
            }),
            ready: Condvar::new(),
            senders: AtomicUsize::new(1),
            waker: Mutex::new(None),
        });
        (Self { shared: Some(shared.clone()) }, EventReceiver { shared })
    }

    /// A sink that discards everything (library use, tests).
    pub fn discard() -> Self {
        Self { shared: None }
    }

    /// Sends an event without waiting.
    pub fn send(&self, event: Event) {
        let Some(shared) = &self.shared else { return };
        let waker = shared.waker.lock().ok().and_then(|w| w.clone());
        if let Some(wake) = waker {
            wake(&event);
        }
        {
            let mut q = shared.lock();
            if !q.receiver_alive {
                return;
            }
            let next_seq = q.head_seq + q.events.len() as u64;
            match &event {
                Event::Progress { stage, .. } => {
                    if let Some(&seq) = q.waiting_progress.get(stage) {
                        let at = (seq - q.head_seq) as usize;
                        q.events[at] = event;
                    } else {
                        q.waiting_progress.insert(stage.clone(), next_seq);
                        q.events.push_back(event);
                    }
                }
                Event::Log { .. } if q.events.len() >= MAX_QUEUED => q.dropped_logs += 1,
                _ => {
                    // A stage that starts again or ends gets its next progress after this event.
                    if let Event::StageStarted { stage } = &event {
                        q.waiting_progress.remove(stage);
                    } else if let Some(stage) = event.ended_stage() {
                        q.waiting_progress.remove(stage);
                    }
                    q.events.push_back(event);
                }
            }
            shared.ready.notify_all();
        }
    }

    /// Shorthand for a progress event.
    pub fn progress(&self, stage: &str, step: u64, total: u64, detail: impl Into<String>) {
        self.send(Event::Progress { stage: stage.to_string(), step, total, detail: detail.into() });
    }

    /// Shorthand for an informational log line.
    pub fn log(&self, line: impl Into<String>) {
        self.send(Event::Log { level: LogLevel::Info, line: line.into() });
    }

    /// Shorthand for a warning.
    pub fn warn(&self, line: impl Into<String>) {
        self.send(Event::Log { level: LogLevel::Warning, line: line.into() });
    }
}

/// The receiving end of an [`EventSink`] and its clones.
pub struct EventReceiver {
    shared: Arc<Shared>,
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.receiver_alive = false;
        q.events.clear();
        q.waiting_progress.clear();
    }
}

impl EventReceiver {
    /// Calls `wake` with every event as it is sent, on the sending thread, before it is queued
    /// (the GUI passes its `request_repaint`; tests cancel at a chosen event). It must be quick.
    pub fn set_waker(&self, wake: impl Fn(&Event) + Send + Sync + 'static) {
        if let Ok(mut w) = self.shared.waker.lock() {
            *w = Some(Arc::new(wake));
        }
    }

    fn pop(q: &mut Queue) -> Option<Event> {
        if q.dropped_logs > 0 && q.events.len() < MAX_QUEUED / 2 {
            let n = std::mem::take(&mut q.dropped_logs);
            return Some(Event::Log {
                level: LogLevel::Warning,
                line: format!("{n} log lines were dropped while nothing read the events"),
            });
        }
        let event = q.events.pop_front()?;
        let seq = q.head_seq;
        q.head_seq += 1;
        if let Event::Progress { stage, .. } = &event {
            if q.waiting_progress.get(stage) == Some(&seq) {
                q.waiting_progress.remove(stage);
            }
        }
        Some(event)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        Self::pop(&mut self.shared.lock())
    }

    /// Waits for the next event; `None` once the queue is empty and every sink is dropped.
    pub fn recv(&self) -> Option<Event> {
        let mut q = self.shared.lock();
        loop {
            if let Some(e) = Self::pop(&mut q) {
                return Some(e);
            }
            if self.shared.senders.load(Ordering::SeqCst) == 0 {
                return None;
            }
            q = self.shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut q = self.shared.lock();
        loop {
            if let Some(e) = Self::pop(&mut q) {
                return Some(e);
            }
            let now = Instant::now();
            if now >= deadline || self.shared.senders.load(Ordering::SeqCst) == 0 {
                return None;
            }
            q = self.shared.ready.wait_timeout(q, deadline - now).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Every event waiting now, without blocking.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv())
    }

    /// Events as they come, until every sink is dropped.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.recv())
    }

    /// Events waiting now.
    pub fn len(&self) -> usize {
        self.shared.lock().events.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sink is dropped and every event read: nothing more will come.
    pub fn is_finished(&self) -> bool {
        let q = self.shared.lock();
        q.events.is_empty() && q.dropped_logs == 0 && self.shared.senders.load(Ordering::SeqCst) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(stage: &str, step: u64) -> Event {
        Event::Progress { stage: stage.into(), step, total: 10, detail: String::new() }
    }

    #[test]
    fn progress_is_coalesced_per_stage_and_nothing_else_is_lost() {
        let (sink, rx) = EventSink::channel();
        sink.send(Event::StageStarted { stage: "a".into() });
        for i in 1..=5 {
            sink.progress("a", i, 10, "");
            sink.progress("b", i, 10, "");
        }
        sink.log("hello");
        sink.progress("a", 10, 10, "");
        sink.send(Event::StageDone { stage: "a".into(), seconds: 1.0 });
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![
                Event::StageStarted { stage: "a".into() },
                progress("a", 10),
                progress("b", 5),
                Event::Log { level: LogLevel::Info, line: "hello".into() },
                Event::StageDone { stage: "a".into(), seconds: 1.0 },
            ]
        );
    }

    #[test]
    fn progress_after_a_stage_end_comes_after_it() {
        let (sink, rx) = EventSink::channel();
        sink.progress("a", 3, 10, "");
        sink.send(Event::StageDone { stage: "a".into(), seconds: 0.0 });
        sink.send(Event::StageStarted { stage: "a".into() });
        sink.progress("a", 1, 10, "");
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got[0], progress("a", 3));
        assert_eq!(got[3], progress("a", 1));
    }

    #[test]
    fn received_progress_is_not_rewritten_and_recv_ends_when_senders_are_gone() {
        let (sink, rx) = EventSink::channel();
        sink.progress("a", 1, 10, "");
        assert_eq!(rx.try_recv(), Some(progress("a", 1)));
        sink.progress("a", 2, 10, "");
        let second = sink.clone();
        drop(sink);
        second.progress("a", 3, 10, "");
        drop(second);
        assert_eq!(rx.recv(), Some(progress("a", 3)));
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn logs_past_the_limit_are_counted_not_queued() {
        let (sink, rx) = EventSink::channel();
        for i in 0..MAX_QUEUED + 7 {
            sink.log(format!("{i}"));
        }
        sink.send(Event::StageDone { stage: "s".into(), seconds: 0.0 });
        assert_eq!(rx.len(), MAX_QUEUED + 1);
        let all: Vec<Event> = rx.try_iter().collect();
        assert!(all.contains(&Event::StageDone { stage: "s".into(), seconds: 0.0 }));
        assert!(all.iter().any(|e| matches!(e, Event::Log { line, .. } if line.starts_with("7 log lines were dropped"))));
    }

    #[test]
    fn waker_is_called_and_a_dropped_receiver_discards() {
        let (sink, rx) = EventSink::channel();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        rx.set_waker(move |_| {
            w.fetch_add(1, Ordering::SeqCst);
        });
        sink.log("one");
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        drop(rx);
        sink.log("nobody listens");
        EventSink::discard().log("nothing listens");
    }
}
