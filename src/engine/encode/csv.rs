//! CSV per RFC 4180 (UTF-8, CRLF, a header row, fields quoted when needed), with cells that a
//! spreadsheet would read as a formula neutralised; several entities travel as one ZIP holding
//! `<entity>.csv` each, and `manifest.json` last.

use std::io::{self, Write};

use zip::{
    CompressionMethod, ZipWriter,
    write::{SimpleFileOptions, StreamWriter},
};

use super::{EncodeError, Encoder, Options, Sink};
use crate::{
    engine::{manifest::Manifest, value::Value},
    records::{Column, EntityType},
};

/// The ZIP entry that describes the export.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How each ZIP entry is compressed.
fn entry_options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(3))
}

/// The UTF-8 byte-order mark Excel needs to read a CSV's accents right.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Characters that make a spreadsheet treat a cell as a formula (or that hide one: a leading
/// tab, carriage return, line feed or NUL). A cell starting with one is prefixed with `'`.
const FORMULA_TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n', '\0'];

/// Where CSV text goes: straight into the sink, or into the current entry of a ZIP.
enum Out {
    Plain(Sink),
    // Boxed: the ZIP writer's state is kilobytes, the sink a few words.
    Zip(Box<ZipWriter<StreamWriter<Sink>>>),
}

impl Write for Out {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Out::Plain(sink) => sink.write(bytes),
            Out::Zip(zip) => zip.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Plain(sink) => sink.flush(),
            Out::Zip(zip) => zip.flush(),
        }
    }
}

pub struct CsvEncoder {
    writer: Option<csv::Writer<Out>>,
    options: Options,
    started: bool,
}

fn csv_writer(out: Out) -> csv::Writer<Out> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(64 * 1024)
        .from_writer(out)
}

impl CsvEncoder {
    /// One entity: one CSV file.
    pub fn single(sink: Sink, options: Options) -> Self {
        CsvEncoder {
            writer: Some(csv_writer(Out::Plain(sink))),
            options,
            started: false,
        }
    }

    /// Several entities: a ZIP of CSV files.
    pub fn zipped(sink: Sink, options: Options) -> Self {
        CsvEncoder {
            writer: Some(csv_writer(Out::Zip(Box::new(ZipWriter::new_stream(sink))))),
            options,
            started: false,
        }
    }

    fn writer(&mut self) -> &mut csv::Writer<Out> {
        self.writer.as_mut().expect("the writer lives until finish")
    }
}

fn csv_error(error: csv::Error) -> EncodeError {
    match error.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        other => EncodeError::Format(format!("{other:?}")),
    }
}

fn zip_error(error: zip::result::ZipError) -> EncodeError {
    match error {
        zip::result::ZipError::Io(io) => io.into(),
        other => EncodeError::Format(other.to_string()),
    }
}

impl Encoder for CsvEncoder {
    fn begin(&mut self, entity: EntityType, columns: &[Column]) -> Result<(), EncodeError> {
        // csv::Writer has no access to its writer but `into_inner`: take it out, start the
        // next file, and put a fresh writer over it.
        let writer = self.writer.take().expect("the writer lives until finish");
        let mut out = writer
            .into_inner()
            .map_err(|e| EncodeError::from(e.into_error()))?;
        match &mut out {
            Out::Zip(zip) => {
                zip.start_file(format!("{}.csv", entity.key()), entry_options())
                    .map_err(zip_error)?;
            }
            Out::Plain(_) if self.started => {
                return Err(EncodeError::Format("a single CSV holds one entity".into()));
            }
            Out::Plain(_) => {}
        }
        self.started = true;
        if self.options.csv_bom {
            out.write_all(BOM)?;
        }
        let writer = self.writer.insert(csv_writer(out));
        writer
            .write_record(columns.iter().map(|column| column.name))
            .map_err(csv_error)
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), EncodeError> {
        let writer = self.writer();
        let mut scratch = String::new();
        for row in rows {
            for value in row {
                match value {
                    Value::Null => writer.write_field(""),
                    Value::Text(text) | Value::Json(text) => {
                        writer.write_field(neutralise(text, &mut scratch))
                    }
                    other => writer.write_field(other.scalar_text().unwrap_or_default()),
                }
                .map_err(csv_error)?;
            }
            writer.write_record(None::<&[u8]>).map_err(csv_error)?;
        }
        Ok(())
    }

    /// A ZIP gets `manifest.json` last; a lone CSV has nowhere to put it.
    fn finish(mut self: Box<Self>, manifest: &Manifest) -> Result<(), EncodeError> {
        let writer = self.writer.take().expect("finish is called once");
        let out = writer
            .into_inner()
            .map_err(|e| EncodeError::from(e.into_error()))?;
        let mut sink = match out {
            Out::Plain(sink) => sink,
            Out::Zip(mut zip) => {
                zip.start_file(MANIFEST_FILE, entry_options())
                    .map_err(zip_error)?;
                let text =
                    serde_json::to_vec_pretty(manifest).map_err(|e| EncodeError::Format(e.to_string()))?;
                zip.write_all(&text)?;
                zip.finish().map_err(zip_error)?.into_inner()
            }
        };
        sink.flush()?;
        Ok(())
    }
}

/// `text`, or `'` + `text` when it would start a formula.
fn neutralise<'a>(text: &'a str, scratch: &'a mut String) -> &'a str {
    if text.starts_with(FORMULA_TRIGGERS) {
        scratch.clear();
        scratch.push('\'');
        scratch.push_str(text);
        scratch
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{engine::encode::testing::encode, exports::model::ExportFormat};

    fn clients() -> Vec<Column> {
        EntityType::Clients.columns()[..3].to_vec()
    }

    fn text(value: &str) -> Value {
        Value::Text(value.into())
    }

    #[test]
    fn quotes_what_needs_quoting_and_ends_lines_with_crlf() {
        let rows = vec![
            vec![text("1"), text("O'Brien, \"Jr\""), Value::Null],
            vec![text("2"), text("line\nbreak"), text("Zoë")],
        ];
        let bytes = encode(ExportFormat::Csv, &[(EntityType::Clients, clients(), rows)]);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "id,medical_record_number,first_name\r\n1,\"O'Brien, \"\"Jr\"\"\",\r\n2,\"line\nbreak\",Zoë\r\n"
        );
    }

    #[test]
    fn formula_triggers_are_neutralised_and_nothing_else_is() {
        let mut scratch = String::new();
        for trigger in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "\0x"] {
            assert_eq!(neutralise(trigger, &mut scratch), format!("'{trigger}"));
        }
        for safe in ["", "O'Brien", " =1", "1-2", "a=b"] {
            assert_eq!(neutralise(safe, &mut scratch), safe);
        }
        // Numbers are typed values, not text: a negative amount stays a number.
        let rows = vec![vec![text("=HYPERLINK(\"x\")"), Value::Int(-5), text("-")]];
        let bytes = encode(ExportFormat::Csv, &[(EntityType::Clients, clients(), rows)]);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("\"'=HYPERLINK(\"\"x\"\")\",-5,'-\r\n"), "{text}");
    }
}
