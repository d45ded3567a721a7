//! Parquet instruction data: flat columns with a mapping, nested `messages`, missing columns.

use dtm_studio::engine::data::{load_dataset, ColumnMapping, DataFormat, LoadDataOptions};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::Path;
use std::sync::Arc;

/// One column's text values with optional definition and repetition levels.
type Column<'a> = (Vec<&'a str>, Option<Vec<i16>>, Option<Vec<i16>>);

/// Writes one row group of text columns.
fn write_parquet(path: &Path, schema: &str, compression: Compression, columns: &[Column<'_>]) {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(WriterProperties::builder().set_compression(compression).build());
    let mut writer = SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut i = 0;
    while let Some(mut col) = group.next_column().unwrap() {
        let (values, def, rep) = &columns[i];
        let values: Vec<ByteArray> = values.iter().map(|v| ByteArray::from(*v)).collect();
        col.typed::<ByteArrayType>().write_batch(&values, def.as_deref(), rep.as_deref()).unwrap();
        col.close().unwrap();
        i += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn data_parquet_flat_columns_with_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("qa.parquet");
    let schema = "message schema { REQUIRED BINARY question (UTF8); REQUIRED BINARY answer (UTF8); OPTIONAL BINARY source (UTF8); }";
    let cols = [
        (vec!["What is 2+2?", "Capital of France?"], None, None),
        (vec!["4", "Paris"], None, None),
        (vec!["math"], Some(vec![1, 0]), None),
    ];
    write_parquet(&p, schema, Compression::SNAPPY, &cols);
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!((ds.format, ds.examples.len()), (DataFormat::Parquet, 2));
    assert_eq!((ds.examples[1].instruction_text().as_str(), ds.examples[1].response_text().as_str()), ("Capital of France?", "Paris"));
    assert_eq!(ds.examples[0].fields.get("source").map(String::as_str), Some("math"));
    assert!(!ds.examples[1].fields.contains_key("source"));
    assert_eq!((ds.examples[1].row, ds.examples[1].line), (1, 0));
    // An explicit mapping swaps the roles; a wrong one names what is missing and what is there.
    let swapped = LoadDataOptions { columns: Some(ColumnMapping::parse("prompt=answer,response=question").unwrap()), ..Default::default() };
    assert_eq!(load_dataset(&p, &swapped).unwrap().examples[0].response_text(), "What is 2+2?");
    let wrong =
        LoadDataOptions { columns: Some(ColumnMapping::parse("prompt=instruction,response=output").unwrap()), ..Default::default() };
    let err = load_dataset(&p, &wrong).unwrap_err().to_string();
    assert!(
        err.contains("qa.parquet") && err.contains("'instruction' (instruction)") && err.contains("'question', 'answer', 'source'"),
        "{err}"
    );
}

#[test]
fn data_parquet_nested_messages_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("chat.parquet");
    let schema = "message schema { REQUIRED group messages (LIST) { REPEATED group list { REQUIRED group element { REQUIRED BINARY role (UTF8); REQUIRED BINARY content (UTF8); } } } }";
    // Row 0: user/assistant; row 1: user/assistant/user/assistant.
    let rep = Some(vec![0, 1, 0, 1, 1, 1]);
    let def = Some(vec![1; 6]);
    let cols = [
        (vec!["user", "assistant", "user", "assistant", "user", "assistant"], def.clone(), rep.clone()),
        (vec!["hi", "hello", "q1", "a1", "q2", "a2"], def, rep),
    ];
    write_parquet(&p, schema, Compression::GZIP(Default::default()), &cols);
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!(ds.format, DataFormat::Parquet);
    assert_eq!(ds.examples.len(), 2);
    assert_eq!(ds.examples[0].response_text(), "hello");
    assert_eq!(ds.examples[1].assistant_turns(), 2);
    assert_eq!(ds.examples[1].turns[3].content, "a2");
}

#[test]
fn data_parquet_without_known_columns_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_parquet(&p, "message schema { REQUIRED BINARY text (UTF8); }", Compression::LZ4_RAW, &[(vec!["plain"], None, None)]);
    let err = load_dataset(&p, &LoadDataOptions::default()).unwrap_err().to_string();
    assert!(err.contains("t.parquet") && err.contains("missing column") && err.contains("'text'") && err.contains("`columns`"), "{err}");
    let damaged = dir.path().join("damaged.parquet");
    std::fs::write(&damaged, b"PAR1 not really").unwrap();
    let err = load_dataset(&damaged, &LoadDataOptions::default()).unwrap_err().to_string();
    assert!(err.contains("damaged.parquet: Parquet:"), "{err}");
}
