//! The catalog: every export type, the formats it offers and the entity types it covers. One
//! definition, read by the New Export dialog and enforced by `create_export_request`.

use crate::{
    error::AppError,
    exports::model::{ExportFormat, ExportType, NewExport},
    records::EntityType,
};

/// The organisation's records (everything but the audit log).
pub const RECORD_ENTITIES: &[EntityType] = &[
    EntityType::Clients,
    EntityType::Appointments,
    EntityType::Encounters,
    EntityType::Claims,
    EntityType::Staff,
];

/// Which entity types an export covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entities {
    /// Always exactly these.
    Fixed(&'static [EntityType]),
    /// One or more of these, chosen by the user.
    Choose(&'static [EntityType]),
}

impl ExportType {
    pub const ALL: [ExportType; 4] = [
        ExportType::FullOrganization,
        ExportType::SelectedRecords,
        ExportType::DeidentifiedDataset,
        ExportType::AuditTrail,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ExportType::FullOrganization => "full_organization",
            ExportType::SelectedRecords => "selected_records",
            ExportType::DeidentifiedDataset => "deidentified_dataset",
            ExportType::AuditTrail => "audit_trail",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportType::FullOrganization => "Full organisation export",
            ExportType::SelectedRecords => "Selected records",
            ExportType::DeidentifiedDataset => "De-identified dataset",
            ExportType::AuditTrail => "Audit trail",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ExportType::FullOrganization => "Every record of the organisation. Contains PHI.",
            ExportType::SelectedRecords => "The entity types you choose. Contains PHI.",
            ExportType::DeidentifiedDataset => {
                "HIPAA Safe Harbor: names, contact details, record numbers and exact dates removed."
            }
            ExportType::AuditTrail => "The organisation's audit log.",
        }
    }

    pub fn from_key(key: &str) -> Option<ExportType> {
        ExportType::ALL
            .into_iter()
            .find(|export_type| export_type.key() == key)
    }

    /// The formats this type offers, in the order the dialog lists them.
    pub fn formats(self) -> &'static [ExportFormat] {
        match self {
            ExportType::FullOrganization => &[ExportFormat::Json, ExportFormat::Xlsx, ExportFormat::Csv],
            ExportType::SelectedRecords => &[ExportFormat::Csv, ExportFormat::Xlsx, ExportFormat::Json],
            ExportType::DeidentifiedDataset | ExportType::AuditTrail => {
                &[ExportFormat::Csv, ExportFormat::Json]
            }
        }
    }

    pub fn entities(self) -> Entities {
        match self {
            ExportType::FullOrganization => Entities::Fixed(RECORD_ENTITIES),
            ExportType::SelectedRecords | ExportType::DeidentifiedDataset => {
                Entities::Choose(RECORD_ENTITIES)
            }
            ExportType::AuditTrail => Entities::Fixed(&[EntityType::AuditLogs]),
        }
    }

    /// Whether identifiers are removed (HIPAA Safe Harbor).
    pub fn deidentifies(self) -> bool {
        self == ExportType::DeidentifiedDataset
    }
}

/// A request that passed the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidExport {
    pub export_type: ExportType,
    pub export_format: ExportFormat,
    pub entity_types: Vec<EntityType>,
}

impl ValidExport {
    /// The file's extension: several entity types in CSV travel as one ZIP of CSVs.
    pub fn extension(&self) -> &'static str {
        self.export_format.extension(self.entity_types.len())
    }
}

/// Reads a stored request's keys back under the same rules as a submitted one.
pub fn check(
    export_type: &str,
    export_format: &str,
    entity_types: &[String],
) -> Result<ValidExport, AppError> {
    validate(&NewExport {
        export_type: export_type.to_owned(),
        export_format: export_format.to_owned(),
        entity_types: entity_types.to_vec(),
    })
}

/// Checks a submitted request against the catalog; errors name the offending field.
pub fn validate(input: &NewExport) -> Result<ValidExport, AppError> {
    let export_type = ExportType::from_key(input.export_type.trim())
        .ok_or_else(|| AppError::validation("export_type", "Choose an export type."))?;
    let export_format = ExportFormat::from_key(input.export_format.trim().to_ascii_lowercase().as_str())
        .filter(|format| export_type.formats().contains(format))
        .ok_or_else(|| {
            let offered: Vec<&str> = export_type.formats().iter().map(|f| f.label()).collect();
            AppError::validation(
                "export_format",
                format!("{} is available as {}.", export_type.label(), offered.join(", ")),
            )
        })?;
    let mut entity_types = Vec::new();
    for key in &input.entity_types {
        let entity = EntityType::from_key(key.trim())
            .ok_or_else(|| AppError::validation("entity_types", "Unknown entity type."))?;
        if !entity_types.contains(&entity) {
            entity_types.push(entity);
        }
    }
    let entity_types = match export_type.entities() {
        Entities::Fixed(fixed) => {
            if entity_types.iter().any(|entity| !fixed.contains(entity)) {
                return Err(AppError::validation(
                    "entity_types",
                    format!(
                        "{} always covers a fixed set of entity types.",
                        export_type.label()
                    ),
                ));
            }
            fixed.to_vec()
        }
        Entities::Choose(allowed) => {
            if entity_types.is_empty() {
                return Err(AppError::validation(
                    "entity_types",
                    "Choose at least one entity type.",
                ));
            }
            if entity_types.iter().any(|entity| !allowed.contains(entity)) {
                return Err(AppError::validation(
                    "entity_types",
                    format!("{} cannot include that entity type.", export_type.label()),
                ));
            }
            // Catalog order, whatever order they were ticked in.
            allowed
                .iter()
                .copied()
                .filter(|entity| entity_types.contains(entity))
                .collect()
        }
    };
    Ok(ValidExport {
        export_type,
        export_format,
        entity_types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(export_type: &str, export_format: &str, entities: &[&str]) -> NewExport {
        NewExport {
            export_type: export_type.into(),
            export_format: export_format.into(),
            entity_types: entities.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn field(result: Result<ValidExport, AppError>) -> String {
        match result {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_what_the_catalog_offers() {
        let valid = validate(&input(
            "selected_records",
            "XLSX",
            &["claims", "clients", "claims"],
        ))
        .unwrap();
        assert_eq!(valid.export_format, ExportFormat::Xlsx);
        assert_eq!(valid.entity_types, vec![EntityType::Clients, EntityType::Claims]);
        let full = validate(&input("full_organization", "json", &[])).unwrap();
        assert_eq!(full.entity_types, RECORD_ENTITIES);
        let audit = validate(&input("audit_trail", "csv", &["audit_logs"])).unwrap();
        assert_eq!(audit.entity_types, vec![EntityType::AuditLogs]);
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        assert_eq!(
            field(validate(&input("everything", "csv", &["clients"]))),
            "export_type"
        );
        assert_eq!(
            field(validate(&input("audit_trail", "xlsx", &[]))),
            "export_format"
        );
        assert_eq!(
            field(validate(&input("deidentified_dataset", "xlsx", &["clients"]))),
            "export_format"
        );
        assert_eq!(
            field(validate(&input("selected_records", "csv", &[]))),
            "entity_types"
        );
        assert_eq!(
            field(validate(&input("selected_records", "csv", &["patients"]))),
            "entity_types"
        );
        assert_eq!(
            field(validate(&input("selected_records", "csv", &["audit_logs"]))),
            "entity_types"
        );
        assert_eq!(
            field(validate(&input("audit_trail", "csv", &["clients"]))),
            "entity_types"
        );
    }

    #[test]
    fn every_type_offers_formats_and_keys_round_trip() {
        for export_type in ExportType::ALL {
            assert!(!export_type.formats().is_empty());
            assert_eq!(ExportType::from_key(export_type.key()), Some(export_type));
            assert_eq!(serde_json::to_value(export_type).unwrap(), export_type.key());
        }
    }
}
