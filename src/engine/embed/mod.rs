//! Sentence embeddings of instruction data: BERT-family sentence-transformers models via
//! candle-transformers, and a built-in hashed n-gram encoder that needs no weights. Embeddings are
//! written as safetensors (`embeddings` `[rows, dim]` + `encoder`, `field`, `data_sha256`) and
//! cached by (data hash, encoder, text field), so re-clustering never re-embeds.

pub mod bench;
pub mod bert;
pub mod bert_cpu;
pub mod builtin;
pub mod encoder;
pub mod error;
pub mod field;
pub mod file;
pub mod kernels;
pub mod stage;
pub mod words;

pub use bert::{BertEncoder, Pooling};
pub use builtin::HashedEncoder;
pub use encoder::{embed_texts, EmbedOptions, Encoder, EncoderSpec};
pub use error::EmbedError;
pub use field::TextField;
pub use file::{cache_key, cache_path, load_embeddings, save_embeddings, Embeddings};
pub use stage::{
    check_matches, embed_cached, embed_dataset, load_for_embedding, run_embed, texts_of, EmbedOutcome, EmbedRequest, EncoderRequest,
};
