//! What long-running stages share: typed progress events on a bounded channel and a cancellation
//! token. Both front ends render the same events (the CLI as progress bars, the GUI as widgets).

pub mod cancel;
pub mod events;

pub use cancel::CancelToken;
pub use events::{Event, EventSink};
