//! Instruction data: formats, prompt templates and chat templates.

pub mod batch;
pub mod chat_template;
pub mod error;
pub mod example;
pub mod excerpt;
mod formats;
pub mod load;
pub mod prompt;
mod source;
pub mod split;
pub mod stage;
mod table;
pub mod tokenize;
pub mod validate;

pub use batch::{collate, length_grouped_batches};
pub use chat_template::ChatMessage;
pub use error::{DataError, RowRef};
pub use example::{ColumnMapping, DataFormat, Dataset, Example, LoadDataOptions};
pub use excerpt::{record_excerpts, ExcerptLimits};
pub use load::{load_dataset, load_dataset_in};
pub use prompt::{PromptOptions, PromptTemplate};
pub use split::{parse_row_selection, split_train_val};
pub use stage::{run_data_check, DataCheckOutcome, DataCheckRequest, LengthCheck};
pub use tokenize::{check_lengths, load_tokenizer, tokenize_dataset, TokenizeReport, TokenizedExample, IGNORE_INDEX};
pub use validate::{Issue, IssueKind, LengthStats, ValidationReport};
