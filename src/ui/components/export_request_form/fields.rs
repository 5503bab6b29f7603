//! The New Export dialog's fields: export type, format, entity types, and a field's error.

use leptos::prelude::*;

use super::choice::Choice;
use crate::{
    api::exports::CreateExportRequest,
    error::AppError,
    exports::{
        catalog::Entities,
        model::{ExportFormat, ExportType},
    },
    ui::components::error_message::{ErrorMessage, ErrorPlace},
};

/// Every export type, as radio buttons with what each contains.
#[component]
pub(super) fn ExportTypeField(choice: Choice) -> impl IntoView {
    let option = move |export_type: ExportType| {
        view! {
            <label class="choice">
                <input
                    type="radio"
                    name="export_type"
                    value=export_type.key()
                    prop:checked=move || choice.export_type.get() == export_type
                    on:change=move |_| choice.choose_type(export_type)
                />
                <span class="choice-text">
                    <span class="choice-label">{export_type.label()}</span>
                    <span class="choice-help">{export_type.description()}</span>
                </span>
            </label>
        }
    };
    view! {
        <fieldset class="choices">
            <legend>"Export type"</legend>
            {ExportType::ALL.map(option)}
        </fieldset>
    }
}

/// The formats the chosen export type offers.
#[component]
pub(super) fn FormatField(choice: Choice) -> impl IntoView {
    let options = move || {
        choice
            .export_type
            .get()
            .formats()
            .iter()
            .map(|&format| {
                view! {
                    <option value=format.key() selected=move || choice.format.get() == format>
                        {format.label()}
                    </option>
                }
            })
            .collect_view()
    };
    view! {
        <div class="field">
            <label for="export-format">"Format"</label>
            <select
                id="export-format"
                name="export_format"
                prop:value=move || choice.format.get().key()
                on:change=move |event| {
                    if let Some(chosen) = ExportFormat::from_key(&event_target_value(&event)) {
                        choice.format.set(chosen);
                    }
                }
            >
                {options}
            </select>
        </div>
    }
}

/// The entity types to pick from, or the fixed set the chosen export type covers.
#[component]
pub(super) fn EntityTypesField(choice: Choice) -> impl IntoView {
    move || {
        match choice.export_type.get().entities() {
        Entities::Choose(offered) => view! {
            <fieldset class="choices choices-inline">
                <legend>"Entity types"</legend>
                {offered.iter().map(|&entity| view! {
                    <label class="check">
                        <input
                            type="checkbox"
                            name="entity_types"
                            value=entity.key()
                            prop:checked=move || choice.entity_types.get().contains(&entity)
                            on:change=move |event| choice.pick_entity_type(entity, event_target_checked(&event))
                        />
                        {entity.label()}
                    </label>
                }).collect_view()}
            </fieldset>
        }
        .into_any(),
        Entities::Fixed(covered) => {
            let names: Vec<&str> = covered.iter().map(|entity| entity.label()).collect();
            view! { <p class="covers">"Covers: " {names.join(", ")}</p> }.into_any()
        }
    }
    }
}

/// The server's complaint about one field, under it.
#[component]
pub(super) fn FieldError(action: ServerAction<CreateExportRequest>, field: &'static str) -> impl IntoView {
    move || match action.value().get() {
        Some(Err(AppError::Validation {
            field: invalid,
            message,
        })) if invalid == field => Some(view! { <ErrorMessage place=ErrorPlace::Inline message /> }),
        _ => None,
    }
}
