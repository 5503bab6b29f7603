//! Encoders: rows in, file bytes out, in CSV (one file, or a ZIP of one file per entity),
//! XLSX or JSON. They run on a blocking thread and write into a [`Sink`] that hands fixed-size
//! chunks to the uploader, so memory stays flat whatever the row count.

mod csv;
mod json;
mod xlsx;

use std::io::{self, Write};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{
    engine::{manifest::Manifest, value::Value},
    exports::model::ExportFormat,
    records::{Column, EntityType, Kind},
};

/// Bytes handed to the uploader at a time.
pub const CHUNK_BYTES: usize = 1 << 20;

/// An encoding failure.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The other end went away (the upload failed, or the reader stopped): not a cause itself.
    #[error("the export pipeline was closed")]
    Closed,
    /// The data cannot be written in this format; the message is safe to show the user.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("encoding: {0}")]
    Format(String),
}

impl From<io::Error> for EncodeError {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::BrokenPipe => EncodeError::Closed,
            _ => EncodeError::Format(error.to_string()),
        }
    }
}

/// What the reader sends the encoder.
#[derive(Debug)]
pub enum Message {
    /// The next entity starts; its rows have these columns.
    Begin(EntityType, Vec<Column>),
    Rows(Vec<Vec<Value>>),
    /// Every entity has been sent: finish the file, with its description where it fits.
    Finish(Box<Manifest>),
}

/// Settings that change bytes but not content.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Start CSV files with a UTF-8 byte-order mark (for Excel).
    pub csv_bom: bool,
}

/// One file format's writer.
trait Encoder {
    fn begin(&mut self, entity: EntityType, columns: &[Column]) -> Result<(), EncodeError>;
    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), EncodeError>;
    /// Completes the file, with `manifest` where the format can hold it, and flushes everything
    /// into the sink.
    fn finish(self: Box<Self>, manifest: &Manifest) -> Result<(), EncodeError>;
}

/// About how many bytes a file holding `rows` rows of each of these column lists takes in
/// `format`. Each kind of value has a typical width; calibrated on the engine benchmark's
/// 1,000,000 appointments (BENCHMARKS.md), which it estimates within 5% in every format.
pub fn estimated_bytes(format: ExportFormat, tables: &[(&[Column], u64)]) -> u64 {
    fn width(kind: Kind) -> u64 {
        match kind {
            Kind::Id => 36,
            Kind::Text => 14,
            Kind::Date => 10,
            Kind::Timestamp => 20,
            Kind::Integer => 3,
            Kind::Money => 6,
            Kind::Bool => 5,
            Kind::Json => 60,
        }
    }
    fn quoted(kind: Kind) -> u64 {
        match kind {
            Kind::Integer | Kind::Money | Kind::Bool | Kind::Json => 0,
            _ => 2,
        }
    }
    let zipped = format.extension(tables.len()) == "zip";
    tables
        .iter()
        .map(|(columns, rows)| {
            // Values, separators and the line end.
            let csv: u64 = columns.iter().map(|c| width(c.kind) + 1).sum::<u64>() + 1;
            let per_row = match format {
                // Deflate halves text this varied (UUIDs compress poorly).
                ExportFormat::Csv if zipped => csv / 2,
                ExportFormat::Csv => csv,
                // Keys, quotes, colons and commas; braces and the line end.
                ExportFormat::Json => {
                    columns
                        .iter()
                        .map(|c| width(c.kind) + quoted(c.kind) + c.name.len() as u64 + 4)
                        .sum::<u64>()
                        + 2
                }
                // Compressed XML: a little over half the CSV.
                ExportFormat::Xlsx => csv * 5 / 9,
            };
            per_row * rows
        })
        .sum()
}

/// The MIME type of an export's file.
pub fn content_type(format: ExportFormat, entity_count: usize) -> &'static str {
    match format.extension(entity_count) {
        "zip" => "application/zip",
        "csv" => "text/csv; charset=utf-8",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/json",
    }
}

/// Encodes everything `input` delivers into `output` (blocking: run it on a blocking thread).
/// Returns [`EncodeError::Closed`] if `input` ends without [`Message::Finish`].
pub fn run(
    format: ExportFormat,
    entity_count: usize,
    options: Options,
    mut input: mpsc::Receiver<Message>,
    output: mpsc::Sender<Bytes>,
) -> Result<(), EncodeError> {
    let sink = Sink::new(output);
    let mut encoder: Box<dyn Encoder> = match format {
        ExportFormat::Csv if entity_count > 1 => Box::new(csv::CsvEncoder::zipped(sink, options)),
        ExportFormat::Csv => Box::new(csv::CsvEncoder::single(sink, options)),
        ExportFormat::Json => Box::new(json::JsonEncoder::new(sink)),
        ExportFormat::Xlsx => Box::new(xlsx::XlsxEncoder::new(sink)?),
    };
    while let Some(message) = input.blocking_recv() {
        match message {
            Message::Begin(entity, columns) => encoder.begin(entity, &columns)?,
            Message::Rows(rows) => encoder.rows(&rows)?,
            Message::Finish(manifest) => return encoder.finish(&manifest),
        }
    }
    Err(EncodeError::Closed)
}

/// A `Write` that hands its bytes on in chunks of [`CHUNK_BYTES`]; the last, shorter chunk
/// goes on flush. Fails with `BrokenPipe` once the receiver is gone.
pub struct Sink {
    output: mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
}

impl Sink {
    fn new(output: mpsc::Sender<Bytes>) -> Self {
        Sink {
            output,
            buffer: Vec::with_capacity(CHUNK_BYTES),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.output
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == CHUNK_BYTES {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs an encoder over in-memory rows and returns the file's bytes.
    use super::*;

    /// An entity, its columns and its rows.
    pub type Table = (EntityType, Vec<Column>, Vec<Vec<Value>>);

    /// The manifest of a file of these tables.
    pub fn manifest(format: ExportFormat, entities: &[Table]) -> Manifest {
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        Manifest {
            export_request_id: uuid::Uuid::nil(),
            export_type: crate::exports::model::ExportType::SelectedRecords,
            export_format: format,
            entity_types: entities.iter().map(|(entity, ..)| *entity).collect(),
            date_range: None,
            time_zone: "UTC".into(),
            columns: entities
                .iter()
                .map(|(entity, columns, _)| (entity.key(), columns.iter().map(|c| c.name).collect()))
                .collect(),
            de_identified: false,
            purpose: Some("Payment".into()),
            recipient: Some("internal: finance team".into()),
            requested_at: at,
            snapshot_at: at,
            row_counts: entities
                .iter()
                .map(|(entity, _, rows)| (*entity, rows.len() as u64))
                .collect(),
        }
    }

    pub fn encode(format: ExportFormat, entities: &[Table]) -> Vec<u8> {
        let (input, input_rx) = mpsc::channel(4);
        let (output_tx, mut output) = mpsc::channel(4);
        let count = entities.len();
        let encoder =
            std::thread::spawn(move || run(format, count, Options { csv_bom: false }, input_rx, output_tx));
        let entities = entities.to_vec();
        let manifest = manifest(format, &entities);
        let feeder = std::thread::spawn(move || {
            for (entity, columns, rows) in entities {
                input.blocking_send(Message::Begin(entity, columns)).unwrap();
                input.blocking_send(Message::Rows(rows)).unwrap();
            }
            input.blocking_send(Message::Finish(Box::new(manifest))).unwrap();
        });
        let mut bytes = Vec::new();
        while let Some(chunk) = output.blocking_recv() {
            bytes.extend_from_slice(&chunk);
        }
        feeder.join().unwrap();
        encoder.join().unwrap().unwrap();
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_estimates_match_the_benchmark_within_five_percent() {
        // BENCHMARKS.md: 1,000,000 appointments as CSV 179.9 MiB, JSON 299.0 MiB, XLSX 100.7 MiB.
        let columns = EntityType::Appointments.columns();
        for (format, measured_mib) in [
            (ExportFormat::Csv, 179.9),
            (ExportFormat::Json, 299.0),
            (ExportFormat::Xlsx, 100.7),
        ] {
            let estimate = estimated_bytes(format, &[(columns, 1_000_000)]) as f64 / 1_048_576.0;
            let off = (estimate / measured_mib - 1.0).abs();
            assert!(
                off < 0.05,
                "{format:?}: {estimate:.1} MiB against {measured_mib} MiB"
            );
        }
    }

    #[test]
    fn the_sink_sends_full_chunks_then_the_rest() {
        let (tx, mut rx) = mpsc::channel(8);
        let writer = std::thread::spawn(move || {
            let mut sink = Sink::new(tx);
            sink.write_all(&vec![7u8; CHUNK_BYTES * 2 + 10]).unwrap();
            sink.flush().unwrap();
        });
        let mut sizes = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            sizes.push(chunk.len());
        }
        writer.join().unwrap();
        assert_eq!(sizes, vec![CHUNK_BYTES, CHUNK_BYTES, 10]);
    }

    #[test]
    fn a_closed_receiver_is_a_broken_pipe() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut sink = Sink::new(tx);
        sink.write_all(b"x").unwrap();
        let error = sink.flush().unwrap_err();
        assert!(matches!(EncodeError::from(error), EncodeError::Closed));
    }

    #[test]
    fn input_that_stops_without_finish_is_not_a_file() {
        let (input, input_rx) = mpsc::channel(1);
        let (output, _output_rx) = mpsc::channel(1);
        drop(input);
        let result = run(
            ExportFormat::Json,
            1,
            Options { csv_bom: false },
            input_rx,
            output,
        );
        assert!(matches!(result, Err(EncodeError::Closed)));
    }
}
