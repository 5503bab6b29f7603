//! The New Export dialog's columns: per record type, grouped by class, all ticked to begin with.

use leptos::prelude::*;

use super::choice::Choice;
use crate::{
    exports::model::ExportType,
    records::{Class, EntityType},
};

#[component]
pub(super) fn ColumnsField(choice: Choice) -> impl IntoView {
    move || {
        let export_type = choice.export_type.get();
        let covered = choice.covered();
        (!covered.is_empty()).then(|| {
            let help = if export_type.deidentifies() {
                "Only the columns that survive de-identification are offered. The id is always included."
            } else {
                "Untick what the recipient does not need. The id is always included."
            };
            view! {
                <fieldset class="choices columns">
                    <legend>"Columns"</legend>
                    <p class="choice-help">{help}</p>
                    {covered
                        .into_iter()
                        .map(|entity| view! { <EntityColumns choice entity export_type /> })
                        .collect_view()}
                </fieldset>
            }
        })
    }
}

/// One record type's columns, folded away behind how many are ticked.
#[component]
fn EntityColumns(choice: Choice, entity: EntityType, export_type: ExportType) -> impl IntoView {
    let offered = export_type.columns(entity);
    let total = offered.len();
    let names: Vec<&'static str> = offered.iter().map(|column| column.name).collect();
    let summary = move || {
        let ticked = names.iter().filter(|name| choice.is_ticked(entity, name)).count();
        format!("{}: {ticked} of {total} columns", entity.label())
    };
    let groups = Class::ALL.into_iter().filter_map(|class| {
        let columns: Vec<&'static str> = offered
            .iter()
            .filter(|column| column.class == class)
            .map(|column| column.name)
            .collect();
        (!columns.is_empty()).then(|| {
            view! {
                <fieldset class="choices choices-inline">
                    <legend>{class.label()}</legend>
                    {columns
                        .into_iter()
                        .map(|name| {
                            view! {
                                <label class="check">
                                    <input
                                        type="checkbox"
                                        value=name
                                        disabled=name == "id"
                                        prop:checked=move || choice.is_ticked(entity, name)
                                        on:change=move |event| {
                                            choice.tick_column(entity, name, event_target_checked(&event))
                                        }
                                    />
                                    {name}
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
            }
        })
    });
    view! {
        <details class="column-group" data-entity=entity.key()>
            <summary>{summary}</summary>
            {groups.collect_view()}
        </details>
    }
}
