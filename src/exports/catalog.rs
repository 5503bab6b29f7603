//! The catalog: every export type, the formats, entity types and columns it offers, and what a
//! request must say about its scope. One definition, read by the New Export dialog and enforced
//! by `create_export_request`.

use std::collections::BTreeMap;

use crate::{
    error::AppError,
    exports::{
        model::{ExportFormat, ExportType, NewExport},
        scope::{DateRange, Disclosure},
    },
    records::{Column, EntityType},
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

    /// Whether a purpose and a recipient must be given: the export holds identified PHI or PII.
    pub fn needs_disclosure(self) -> bool {
        !self.deidentifies()
    }

    /// The columns of `entity` this type can export, in registry order (`id` first): all of
    /// them, or what Safe Harbor leaves.
    pub fn columns(self, entity: EntityType) -> Vec<Column> {
        entity
            .columns()
            .iter()
            .copied()
            .filter(|column| !self.deidentifies() || column.survives_deidentification())
            .collect()
    }
}

/// A request that passed the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidExport {
    pub export_type: ExportType,
    pub export_format: ExportFormat,
    pub entity_types: Vec<EntityType>,
    /// The columns exported for each entity type, in registry order, `id` first.
    pub columns: BTreeMap<EntityType, Vec<Column>>,
    /// `None` for all time.
    pub date_range: Option<DateRange>,
    /// `None` only where the type does not need one and none was given.
    pub disclosure: Option<Disclosure>,
}

impl ValidExport {
    /// The file's extension: several entity types in CSV travel as one ZIP of CSVs.
    pub fn extension(&self) -> &'static str {
        self.export_format.extension(self.entity_types.len())
    }

    /// The columns exported for `entity` (none for an entity type it does not cover).
    pub fn columns(&self, entity: EntityType) -> &[Column] {
        self.columns.get(&entity).map_or(&[], Vec::as_slice)
    }

    /// What audit entries record of its scope: the dates (days of `time_zone`), the columns,
    /// and the purpose and recipient.
    #[cfg(feature = "ssr")]
    pub fn scope_payload(&self, time_zone: &str) -> serde_json::Value {
        serde_json::json!({
            "date_range": self.date_range,
            "time_zone": time_zone,
            "columns": self.column_names(),
            "disclosure": self.disclosure,
        })
    }

    /// The chosen column names per entity key, as requests store them.
    pub fn column_names(&self) -> BTreeMap<&'static str, Vec<&'static str>> {
        self.columns
            .iter()
            .map(|(entity, columns)| (entity.key(), columns.iter().map(|c| c.name).collect()))
            .collect()
    }
}

/// Checks a submitted request against the catalog; errors name the offending field.
pub fn validate(input: &NewExport) -> Result<ValidExport, AppError> {
    let mut valid = spec(input)?;
    valid.disclosure = Disclosure::parse(
        &input.purpose,
        &input.purpose_detail,
        &input.recipient,
        valid.export_type.needs_disclosure(),
    )?;
    Ok(valid)
}

/// What a request exports — type, format, entity types, columns and dates — checked as
/// [`validate`] checks it, without its purpose and recipient (stored requests from before they
/// were asked for have none).
pub fn spec(input: &NewExport) -> Result<ValidExport, AppError> {
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
    let columns = choose_columns(export_type, &entity_types, &input.columns)?;
    let date_range = DateRange::parse(&input.date_from, &input.date_to)?;
    Ok(ValidExport {
        export_type,
        export_format,
        entity_types,
        columns,
        date_range,
        disclosure: None,
    })
}

/// The columns chosen for each entity type, in registry order with `id` always first; an entity
/// type not mentioned exports every column its export type offers.
fn choose_columns(
    export_type: ExportType,
    entity_types: &[EntityType],
    chosen: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<EntityType, Vec<Column>>, AppError> {
    let invalid = |message: String| AppError::validation("columns", message);
    for key in chosen.keys() {
        if !entity_types.iter().any(|entity| entity.key() == key) {
            return Err(invalid(
                "Columns were chosen for a record type this export does not include.".into(),
            ));
        }
    }
    let mut columns = BTreeMap::new();
    for &entity in entity_types {
        let offered = export_type.columns(entity);
        let Some(names) = chosen.get(entity.key()) else {
            columns.insert(entity, offered);
            continue;
        };
        for (index, name) in names.iter().enumerate() {
            if !entity.columns().iter().any(|column| column.name == name) {
                return Err(invalid(format!(
                    "{} has no column by one of the names given.",
                    entity.label()
                )));
            }
            if !offered.iter().any(|column| column.name == name) {
                return Err(invalid(format!(
                    "{}: {name} is removed by de-identification.",
                    entity.label()
                )));
            }
            if names[..index].contains(name) {
                return Err(invalid(format!("{}: {name} is listed twice.", entity.label())));
            }
        }
        let picked = offered
            .into_iter()
            .filter(|column| column.name == "id" || names.iter().any(|name| name == column.name))
            .collect();
        columns.insert(entity, picked);
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(export_type: &str, export_format: &str, entities: &[&str]) -> NewExport {
        NewExport {
            export_type: export_type.into(),
            export_format: export_format.into(),
            entity_types: entities.iter().map(|e| e.to_string()).collect(),
            purpose: "payment".into(),
            recipient: "internal: finance team".into(),
            ..NewExport::default()
        }
    }

    fn with_columns(mut input: NewExport, entity: &str, names: &[&str]) -> NewExport {
        input
            .columns
            .insert(entity.into(), names.iter().map(|n| n.to_string()).collect());
        input
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
    fn chosen_columns_come_in_registry_order_with_the_id_first() {
        let valid = validate(&with_columns(
            input("selected_records", "csv", &["clients", "claims"]),
            "clients",
            &["last_name", "date_of_birth"],
        ))
        .unwrap();
        let names = valid.column_names();
        assert_eq!(names["clients"], ["id", "last_name", "date_of_birth"]);
        assert_eq!(names["claims"].len(), EntityType::Claims.columns().len());
        // A de-identified export offers only what survives.
        let deidentified = validate(&input("deidentified_dataset", "csv", &["clients"])).unwrap();
        assert!(
            deidentified
                .columns(EntityType::Clients)
                .iter()
                .all(|column| column.survives_deidentification())
        );
        assert!(!deidentified.column_names()["clients"].contains(&"first_name"));
    }

    #[test]
    fn a_de_identified_export_never_offers_a_removed_column() {
        let Entities::Choose(offered_types) = ExportType::DeidentifiedDataset.entities() else {
            panic!("the de-identified dataset lets users choose");
        };
        // The audit trail is not patient data: never part of a de-identified dataset.
        assert!(!offered_types.contains(&EntityType::AuditLogs));
        for &entity in offered_types {
            let offered = ExportType::DeidentifiedDataset.columns(entity);
            assert!(offered.iter().all(|c| c.survives_deidentification()));
            assert_eq!(offered[0].name, "id");
            assert_eq!(ExportType::SelectedRecords.columns(entity), entity.columns());
        }
    }

    #[test]
    fn columns_must_be_known_offered_unique_and_of_an_included_entity_type() {
        let base = || input("selected_records", "csv", &["clients"]);
        for bad in [
            with_columns(base(), "clients", &["ssn"]),
            with_columns(base(), "clients", &["last_name", "last_name"]),
            with_columns(base(), "claims", &["id"]),
            with_columns(base(), "patients", &["id"]),
            with_columns(
                input("deidentified_dataset", "csv", &["clients"]),
                "clients",
                &["first_name"],
            ),
        ] {
            assert_eq!(field(validate(&bad)), "columns", "{bad:?}");
        }
    }

    #[test]
    fn identified_exports_need_a_purpose_and_a_recipient_and_de_identified_ones_do_not() {
        let bare = |export_type: &str, entities: &[&str]| NewExport {
            purpose: String::new(),
            recipient: String::new(),
            ..input(export_type, "csv", entities)
        };
        let no_entities: &[&str] = &[];
        for (export_type, entities) in [
            ("full_organization", no_entities),
            ("selected_records", &["clients"]),
            ("audit_trail", no_entities),
        ] {
            assert_eq!(field(validate(&bare(export_type, entities))), "purpose");
        }
        let deidentified = validate(&bare("deidentified_dataset", &["clients"])).unwrap();
        assert_eq!(deidentified.disclosure, None);
        let stated = validate(&input("selected_records", "csv", &["clients"])).unwrap();
        assert_eq!(stated.disclosure.unwrap().recipient, "internal: finance team");
    }

    #[test]
    fn a_date_range_is_checked_with_the_rest() {
        let mut ranged = input("selected_records", "csv", &["claims"]);
        ranged.date_from = "2026-10-01".into();
        ranged.date_to = "2026-10-31".into();
        assert_eq!(
            validate(&ranged).unwrap().date_range.unwrap().label(),
            "1 Oct 2026 – 31 Oct 2026"
        );
        ranged.date_to = "2026-09-30".into();
        assert_eq!(field(validate(&ranged)), "date_to");
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
