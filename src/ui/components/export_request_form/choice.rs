//! What the New Export dialog has chosen so far, kept consistent with the catalog.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use leptos::prelude::*;

use crate::{
    exports::{
        catalog::Entities,
        model::{ExportFormat, ExportType, NewExport},
        scope::{Preset, Purpose},
    },
    records::EntityType,
};

/// The export type, format, entity types, dates, columns, purpose and recipient chosen; a format
/// or entity type the chosen type does not offer never stays chosen.
#[derive(Clone, Copy)]
pub(super) struct Choice {
    pub export_type: RwSignal<ExportType>,
    pub format: RwSignal<ExportFormat>,
    pub entity_types: RwSignal<Vec<EntityType>>,
    /// The preset the dates come from; `None` once they are typed in.
    pub preset: RwSignal<Option<Preset>>,
    /// `YYYY-MM-DD`, as the date inputs hold them; both empty for all time.
    pub date_from: RwSignal<String>,
    pub date_to: RwSignal<String>,
    /// The columns unticked, per entity type (every column is ticked to begin with).
    pub unticked: RwSignal<BTreeMap<EntityType, Vec<&'static str>>>,
    pub purpose: RwSignal<String>,
    pub purpose_detail: RwSignal<String>,
    pub recipient: RwSignal<String>,
    /// Ticked for an export above the row threshold.
    pub confirmed: RwSignal<bool>,
}

impl Choice {
    pub fn new() -> Self {
        Choice {
            export_type: RwSignal::new(ExportType::SelectedRecords),
            format: RwSignal::new(ExportFormat::Csv),
            entity_types: RwSignal::new(Vec::new()),
            preset: RwSignal::new(Some(Preset::AllTime)),
            date_from: RwSignal::new(String::new()),
            date_to: RwSignal::new(String::new()),
            unticked: RwSignal::new(BTreeMap::new()),
            purpose: RwSignal::new(String::new()),
            purpose_detail: RwSignal::new(String::new()),
            recipient: RwSignal::new(String::new()),
            confirmed: RwSignal::new(false),
        }
    }

    /// Subscribes the caller to everything that changes what the export would hold (not the
    /// purpose, recipient or confirmation).
    pub fn track_scope(self) {
        self.export_type.track();
        self.format.track();
        self.entity_types.track();
        self.date_from.track();
        self.date_to.track();
        self.unticked.track();
    }

    /// The entity types the export would cover now, in catalog order.
    pub fn covered(self) -> Vec<EntityType> {
        match self.export_type.get().entities() {
            Entities::Fixed(fixed) => fixed.to_vec(),
            Entities::Choose(offered) => {
                let picked = self.entity_types.get();
                offered
                    .iter()
                    .copied()
                    .filter(|entity| picked.contains(entity))
                    .collect()
            }
        }
    }

    /// Fills the dates from a preset, counted from `today` in the organisation's zone.
    pub fn choose_preset(self, preset: Preset, today: NaiveDate) {
        self.preset.set(Some(preset));
        let (from, to) = match preset.range(today) {
            Some(range) => (range.from.to_string(), range.to.to_string()),
            None => (String::new(), String::new()),
        };
        self.date_from.set(from);
        self.date_to.set(to);
    }

    /// A date typed in: the dates are the user's own now, no preset's.
    pub fn type_date(self, field: RwSignal<String>, value: String) {
        field.set(value);
        self.preset.set(None);
    }

    /// Ticks or unticks one column (the id is always exported).
    pub fn tick_column(self, entity: EntityType, column: &'static str, ticked: bool) {
        self.unticked.update(|unticked| {
            let off = unticked.entry(entity).or_default();
            off.retain(|name| *name != column);
            if !ticked && column != "id" {
                off.push(column);
            }
        });
    }

    pub fn is_ticked(self, entity: EntityType, column: &'static str) -> bool {
        self.unticked
            .with(|unticked| !unticked.get(&entity).is_some_and(|off| off.contains(&column)))
    }

    /// Chooses a type; the format falls back to the type's first when the type does not offer it.
    pub fn choose_type(self, chosen: ExportType) {
        self.export_type.set(chosen);
        if !chosen.formats().contains(&self.format.get_untracked()) {
            self.format.set(chosen.formats()[0]);
        }
        if let Entities::Choose(allowed) = chosen.entities() {
            self.entity_types
                .update(|picked| picked.retain(|entity| allowed.contains(entity)));
        }
    }

    /// Adds or removes one entity type, keeping the order they were picked in.
    pub fn pick_entity_type(self, entity: EntityType, picked: bool) {
        self.entity_types.update(|chosen| {
            chosen.retain(|e| *e != entity);
            if picked {
                chosen.push(entity);
            }
        });
    }

    /// What `create_export_request` is sent. Entity types picked for another type stay ticked
    /// for when the user goes back to it, but a type with a fixed set is sent none.
    pub fn request(self) -> NewExport {
        let export_type = self.export_type.get_untracked();
        let entity_types = match export_type.entities() {
            Entities::Choose(_) => self.entity_types.get_untracked(),
            Entities::Fixed(_) => Vec::new(),
        };
        // Only what differs from "every column offered" is sent.
        let columns = self.covered_untracked().into_iter().filter_map(|entity| {
            let unticked = self
                .unticked
                .with_untracked(|u| u.get(&entity).cloned().unwrap_or_default());
            let offered = export_type.columns(entity);
            offered.iter().any(|c| unticked.contains(&c.name)).then(|| {
                let ticked = offered
                    .iter()
                    .filter(|c| !unticked.contains(&c.name))
                    .map(|c| c.name.to_owned())
                    .collect();
                (entity.key().to_owned(), ticked)
            })
        });
        NewExport {
            export_type: export_type.key().to_owned(),
            export_format: self.format.get_untracked().key().to_owned(),
            entity_types: entity_types
                .iter()
                .map(|entity| entity.key().to_owned())
                .collect(),
            columns: columns.collect(),
            date_from: self.date_from.get_untracked(),
            date_to: self.date_to.get_untracked(),
            confirmed: self.confirmed.get_untracked(),
            ..self.disclosure(export_type)
        }
    }

    /// The purpose and recipient, for a type that asks for them (the fields are hidden otherwise,
    /// and what they held is not sent).
    fn disclosure(self, export_type: ExportType) -> NewExport {
        if !export_type.needs_disclosure() {
            return NewExport::default();
        }
        let purpose = self.purpose.get_untracked();
        NewExport {
            purpose_detail: if purpose == Purpose::Other.key() {
                self.purpose_detail.get_untracked()
            } else {
                String::new()
            },
            purpose,
            recipient: self.recipient.get_untracked(),
            ..NewExport::default()
        }
    }

    fn covered_untracked(self) -> Vec<EntityType> {
        untrack(|| self.covered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_type_drops_the_format_and_entity_types_it_does_not_offer() {
        let owner = Owner::new();
        owner.with(|| {
            let choice = Choice::new();
            choice.format.set(ExportFormat::Xlsx);
            choice.pick_entity_type(EntityType::Clients, true);
            choice.choose_type(ExportType::DeidentifiedDataset);
            assert_eq!(choice.format.get_untracked(), ExportFormat::Csv);
            assert_eq!(choice.entity_types.get_untracked(), vec![EntityType::Clients]);

            choice.choose_type(ExportType::FullOrganization);
            assert_eq!(choice.request().export_format, "csv");
        });
    }

    #[test]
    fn presets_fill_the_dates_and_typing_a_date_leaves_the_preset() {
        let owner = Owner::new();
        owner.with(|| {
            let choice = Choice::new();
            let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
            assert_eq!(choice.request().date_from, "");
            choice.choose_preset(Preset::LastCalendarMonth, today);
            let sent = choice.request();
            assert_eq!(
                (sent.date_from.as_str(), sent.date_to.as_str()),
                ("2026-10-01", "2026-10-31")
            );
            choice.type_date(choice.date_to, "2026-10-15".into());
            assert_eq!(choice.preset.get_untracked(), None);
            assert_eq!(choice.request().date_to, "2026-10-15");
            choice.choose_preset(Preset::AllTime, today);
            assert_eq!(choice.request().date_from, "");
        });
    }

    #[test]
    fn only_entity_types_with_unticked_columns_send_a_column_list() {
        let owner = Owner::new();
        owner.with(|| {
            let choice = Choice::new();
            choice.pick_entity_type(EntityType::Clients, true);
            choice.pick_entity_type(EntityType::Staff, true);
            assert!(choice.request().columns.is_empty());
            choice.tick_column(EntityType::Clients, "first_name", false);
            choice.tick_column(EntityType::Clients, "id", false);
            let sent = choice.request().columns;
            assert_eq!(sent.keys().collect::<Vec<_>>(), ["clients"]);
            assert!(sent["clients"].contains(&"id".to_owned()));
            assert!(!sent["clients"].contains(&"first_name".to_owned()));
            // A column de-identification removes anyway is not a choice there.
            choice.choose_type(ExportType::DeidentifiedDataset);
            assert!(choice.request().columns.is_empty());
            choice.tick_column(EntityType::Clients, "first_name", true);
            choice.choose_type(ExportType::SelectedRecords);
            assert!(choice.request().columns.is_empty());
        });
    }

    #[test]
    fn a_type_with_a_fixed_set_is_sent_no_entity_types_but_the_picks_return_with_a_choosing_type() {
        let owner = Owner::new();
        owner.with(|| {
            let choice = Choice::new();
            choice.pick_entity_type(EntityType::Clients, true);
            choice.choose_type(ExportType::AuditTrail);
            assert!(choice.request().entity_types.is_empty());
            choice.choose_type(ExportType::SelectedRecords);
            assert_eq!(choice.request().entity_types, ["clients"]);
        });
    }

    #[test]
    fn entity_types_are_sent_in_the_order_they_were_picked() {
        let owner = Owner::new();
        owner.with(|| {
            let choice = Choice::new();
            choice.pick_entity_type(EntityType::Appointments, true);
            choice.pick_entity_type(EntityType::Clients, true);
            choice.pick_entity_type(EntityType::Staff, true);
            choice.pick_entity_type(EntityType::Appointments, false);
            assert_eq!(choice.request().entity_types, ["clients", "staff"]);
        });
    }
}
