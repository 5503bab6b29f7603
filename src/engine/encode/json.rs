//! JSON, streamed: one object keyed by entity type, each an array of row objects whose keys are
//! the column names, one row per line; its last key, `"manifest"`, describes the export.

use std::io::Write;

use super::{EncodeError, Encoder, Sink};
use crate::{
    engine::{manifest::Manifest, value::Value},
    records::{Column, EntityType},
};

pub struct JsonEncoder {
    sink: Sink,
    /// Each column's key, already quoted: `"name":`.
    keys: Vec<String>,
    entities: usize,
    rows_in_entity: u64,
}

impl JsonEncoder {
    pub fn new(sink: Sink) -> Self {
        JsonEncoder {
            sink,
            keys: Vec::new(),
            entities: 0,
            rows_in_entity: 0,
        }
    }

    fn close_entity(&mut self) -> Result<(), EncodeError> {
        if self.entities > 0 {
            self.sink
                .write_all(if self.rows_in_entity > 0 { b"\n]" } else { b"]" })?;
        }
        Ok(())
    }
}

fn to_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("writing JSON into memory cannot fail");
}

impl Encoder for JsonEncoder {
    fn begin(&mut self, entity: EntityType, columns: &[Column]) -> Result<(), EncodeError> {
        self.close_entity()?;
        let mut head = Vec::new();
        head.extend_from_slice(if self.entities == 0 { b"{" } else { b",\n" });
        to_json(&mut head, entity.key());
        head.extend_from_slice(b":[");
        self.sink.write_all(&head)?;
        self.keys = columns
            .iter()
            .map(|column| format!("{}:", serde_json::Value::from(column.name)))
            .collect();
        self.entities += 1;
        self.rows_in_entity = 0;
        Ok(())
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), EncodeError> {
        let mut out = Vec::with_capacity(256 * rows.len());
        for row in rows {
            out.extend_from_slice(if self.rows_in_entity == 0 { b"\n{" } else { b",\n{" });
            self.rows_in_entity += 1;
            for (index, (key, value)) in self.keys.iter().zip(row).enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(key.as_bytes());
                match value {
                    Value::Null => out.extend_from_slice(b"null"),
                    Value::Text(text) => to_json(&mut out, text),
                    Value::Int(int) => to_json(&mut out, int),
                    Value::Bool(flag) => to_json(&mut out, flag),
                    // Stored JSON goes in as JSON; anything unparsable goes in as a string.
                    Value::Json(text) => match serde_json::from_str::<serde_json::Value>(text) {
                        Ok(parsed) => to_json(&mut out, &parsed),
                        Err(_) => to_json(&mut out, text),
                    },
                    other => to_json(&mut out, &other.scalar_text().unwrap_or_default()),
                }
            }
            out.push(b'}');
        }
        self.sink.write_all(&out)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>, manifest: &Manifest) -> Result<(), EncodeError> {
        self.close_entity()?;
        let mut tail = Vec::new();
        tail.extend_from_slice(if self.entities == 0 { b"{" } else { b",\n" });
        tail.extend_from_slice(b"\"manifest\":");
        to_json(&mut tail, manifest);
        tail.extend_from_slice(b"}\n");
        self.sink.write_all(&tail)?;
        self.sink.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{engine::encode::testing::encode, exports::model::ExportFormat};
    use chrono::NaiveDate;

    #[test]
    fn one_object_keyed_by_entity_with_typed_values() {
        let staff = EntityType::Staff.columns();
        let row = vec![
            Value::Text("s1".into()),
            Value::Text("E-1".into()),
            Value::Text("Zoë \"Z\"".into()),
            Value::Null,
            Value::Text("z@x".into()),
            Value::Null,
            Value::Text("Nurse".into()),
            Value::Null,
            Value::Date(NaiveDate::from_ymd_opt(2020, 1, 2).unwrap()),
            Value::Bool(true),
        ];
        let bytes = encode(
            ExportFormat::Json,
            &[
                (EntityType::Staff, staff.to_vec(), vec![row]),
                (
                    EntityType::Clients,
                    EntityType::Clients.columns().to_vec(),
                    vec![],
                ),
            ],
        );
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed["clients"], serde_json::json!([]));
        let staff = &parsed["staff"][0];
        assert_eq!(staff["first_name"], "Zoë \"Z\"");
        assert_eq!(staff["last_name"], serde_json::Value::Null);
        assert_eq!(staff["hired_on"], "2020-01-02");
        assert_eq!(staff["active"], true);
        let keys: Vec<_> = staff.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), EntityType::Staff.columns().len());
        // The manifest comes last and counts what came before.
        let text = String::from_utf8(bytes).unwrap();
        let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
        assert!(at("staff") < at("clients") && at("clients") < at("manifest"));
        assert_eq!(
            parsed["manifest"]["row_counts"],
            serde_json::json!({"clients": 0, "staff": 1})
        );
        assert_eq!(parsed["manifest"]["purpose"], "Payment");
    }

    #[test]
    fn nothing_exported_is_still_a_json_object_with_its_manifest() {
        let bytes = encode(ExportFormat::Json, &[]);
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parsed.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["manifest"]
        );
        assert!(bytes.ends_with(b"}}\n"));
    }
}
