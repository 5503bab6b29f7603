//! XLSX: one worksheet per entity (continued on `<entity> (2)`, … past Excel's 1,048,576 rows),
//! a bold, frozen, filterable header row, numbers, booleans and dates as real cells, text always
//! as text (never a formula), written in rust_xlsxwriter's constant-memory mode; an "About"
//! sheet last describes the export.

use rust_xlsxwriter::{ColNum, Color, Format, FormatBorder, RowNum, Workbook, XlsxError};

use super::{EncodeError, Encoder, Sink};
use crate::{
    engine::{manifest::Manifest, value::Value},
    records::{Column, EntityType, Kind},
};

/// Rows per worksheet, the header included (Excel's limit).
const SHEET_ROWS: RowNum = 1_048_576;

/// The sheet that describes the export.
pub const ABOUT_SHEET: &str = "About";

/// The longest text a cell holds.
const CELL_CHARS: usize = 32_767;

pub struct XlsxEncoder {
    sink: Option<Sink>,
    workbook: Workbook,
    header: Format,
    date: Format,
    instant: Format,
    entity: Option<(EntityType, Vec<Column>)>,
    /// The current sheet's index, how many sheets this entity has, and the next row.
    sheet: usize,
    part: u32,
    row: RowNum,
}

fn xlsx_error(error: XlsxError) -> EncodeError {
    match error {
        XlsxError::MaxStringLengthExceeded => EncodeError::Unsupported(
            "A value is longer than a spreadsheet cell can hold (32,767 characters). Export it as CSV or JSON.",
        ),
        XlsxError::IoError(io) => io.into(),
        other => EncodeError::Format(other.to_string()),
    }
}

impl XlsxEncoder {
    pub fn new(sink: Sink) -> Result<Self, EncodeError> {
        Ok(XlsxEncoder {
            sink: Some(sink),
            workbook: Workbook::new(),
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xE8EEF7))
                .set_border_bottom(FormatBorder::Thin),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            instant: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            entity: None,
            sheet: 0,
            part: 0,
            row: 0,
        })
    }

    /// Starts a worksheet for the current entity, with its header row.
    fn new_sheet(&mut self) -> Result<(), EncodeError> {
        self.close_sheet()?;
        let (entity, columns) = self.entity.as_ref().expect("begin sets the entity");
        self.part += 1;
        let name = match self.part {
            1 => entity.key().to_owned(),
            part => format!("{} ({part})", entity.key()),
        };
        let sheet = self
            .workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_error)?;
        sheet.set_name(name).map_err(xlsx_error)?;
        for (index, column) in columns.iter().enumerate() {
            let col = index as ColNum;
            let width = match column.kind {
                Kind::Id => 38,
                Kind::Timestamp => 20,
                Kind::Date => 12,
                Kind::Integer | Kind::Money | Kind::Bool => 12,
                Kind::Text | Kind::Json => 20,
            };
            sheet
                .set_column_width(col, width.max(column.name.len() + 2) as u32)
                .map_err(xlsx_error)?;
            sheet
                .write_string_with_format(0, col, column.name, &self.header)
                .map_err(xlsx_error)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        self.sheet = self.workbook.worksheets().len() - 1;
        self.row = 1;
        Ok(())
    }

    /// Puts a filter on the finished sheet's header.
    fn close_sheet(&mut self) -> Result<(), EncodeError> {
        if let Some((_, columns)) = &self.entity
            && self.row > 0
            && !columns.is_empty()
        {
            let last_col = (columns.len() - 1) as ColNum;
            let sheet = self
                .workbook
                .worksheet_from_index(self.sheet)
                .map_err(xlsx_error)?;
            sheet
                .autofilter(0, 0, self.row - 1, last_col)
                .map_err(xlsx_error)?;
        }
        Ok(())
    }
}

impl Encoder for XlsxEncoder {
    fn begin(&mut self, entity: EntityType, columns: &[Column]) -> Result<(), EncodeError> {
        self.close_sheet()?;
        self.entity = Some((entity, columns.to_vec()));
        self.part = 0;
        self.row = 0;
        self.new_sheet()
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), EncodeError> {
        for row in rows {
            if self.row == SHEET_ROWS {
                self.new_sheet()?;
            }
            let at = self.row;
            let sheet = self
                .workbook
                .worksheet_from_index(self.sheet)
                .map_err(xlsx_error)?;
            for (index, value) in row.iter().enumerate() {
                let col = index as ColNum;
                match value {
                    Value::Null => continue,
                    Value::Text(text) | Value::Json(text) => {
                        if text.chars().count() > CELL_CHARS {
                            return Err(xlsx_error(XlsxError::MaxStringLengthExceeded));
                        }
                        sheet.write_string(at, col, text.as_str())
                    }
                    Value::Int(int) => sheet.write_number(at, col, *int as f64),
                    Value::Bool(flag) => sheet.write_boolean(at, col, *flag),
                    Value::Date(date) => sheet.write_datetime_with_format(at, col, date, &self.date),
                    Value::Timestamp(instant) => {
                        sheet.write_datetime_with_format(at, col, instant.naive_utc(), &self.instant)
                    }
                }
                .map_err(xlsx_error)?;
            }
            self.row += 1;
        }
        Ok(())
    }

    /// Adds the "About" sheet, which describes the export, after the data.
    fn finish(mut self: Box<Self>, manifest: &Manifest) -> Result<(), EncodeError> {
        self.close_sheet()?;
        let header = self.header.clone();
        let about = self.workbook.add_worksheet();
        about.set_name(ABOUT_SHEET).map_err(xlsx_error)?;
        about.set_column_width(0, 24).map_err(xlsx_error)?;
        about.set_column_width(1, 80).map_err(xlsx_error)?;
        about
            .write_string_with_format(0, 0, "Field", &header)
            .map_err(xlsx_error)?;
        about
            .write_string_with_format(0, 1, "Value", &header)
            .map_err(xlsx_error)?;
        for (row, (field, value)) in manifest.lines().into_iter().enumerate() {
            let row = row as u32 + 1;
            about.write_string(row, 0, field).map_err(xlsx_error)?;
            about.write_string(row, 1, value).map_err(xlsx_error)?;
        }
        let mut sink = self.sink.take().expect("finish is called once");
        self.workbook.save_to_writer(&mut sink).map_err(xlsx_error)?;
        std::io::Write::flush(&mut sink)?;
        Ok(())
    }
}
