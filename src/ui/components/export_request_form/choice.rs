//! What the New Export dialog has chosen so far, kept consistent with the catalog.

use leptos::prelude::*;

use crate::{
    exports::{
        catalog::Entities,
        model::{ExportFormat, ExportType, NewExport},
    },
    records::EntityType,
};

/// The export type, format and entity types chosen; a format or entity type the chosen type does
/// not offer never stays chosen.
#[derive(Clone, Copy)]
pub(super) struct Choice {
    pub export_type: RwSignal<ExportType>,
    pub format: RwSignal<ExportFormat>,
    pub entity_types: RwSignal<Vec<EntityType>>,
}

impl Choice {
    pub fn new() -> Self {
        Choice {
            export_type: RwSignal::new(ExportType::SelectedRecords),
            format: RwSignal::new(ExportFormat::Csv),
            entity_types: RwSignal::new(Vec::new()),
        }
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

    pub fn clear_entity_types(self) {
        self.entity_types.set(Vec::new());
    }

    /// What `create_export_request` is sent. Entity types picked for another type stay ticked
    /// for when the user goes back to it, but a type with a fixed set is sent none.
    pub fn request(self) -> NewExport {
        let export_type = self.export_type.get_untracked();
        let entity_types = match export_type.entities() {
            Entities::Choose(_) => self.entity_types.get_untracked(),
            Entities::Fixed(_) => Vec::new(),
        };
        NewExport {
            export_type: export_type.key().to_owned(),
            export_format: self.format.get_untracked().key().to_owned(),
            entity_types: entity_types
                .iter()
                .map(|entity| entity.key().to_owned())
                .collect(),
            ..NewExport::default()
        }
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
