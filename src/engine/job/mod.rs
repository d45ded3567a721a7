//! What every long-running stage shares, below the stages: typed events on a queue that never
//! blocks a worker, a cancellation token, and [`run_stage`], the one frame every stage runs in.
//! Both front ends render the same events (the CLI as progress bars, the GUI as widgets).

pub mod cancel;
pub mod events;
pub mod stage;

pub use cancel::{CancelToken, Cancelled};
pub use events::{Event, EventReceiver, EventSink, LogLevel};
pub use stage::{run_stage, StageError, StageScope};
