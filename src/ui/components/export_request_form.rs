//! `ExportRequestForm`: the New Export dialog, a native modal `<dialog>` (focus stays inside,
//! Esc closes, focus returns to the button that opened it). Choosing the export type narrows
//! the formats and record types to what the catalog offers.

use leptos::{html, prelude::*};

use crate::{
    error::AppError,
    exports::{
        api::CreateExportRequest,
        catalog::Entities,
        model::{ExportFormat, ExportType, NewExport},
    },
    records::EntityType,
};

#[component]
pub fn ExportRequestForm(
    action: ServerAction<CreateExportRequest>,
    dialog: NodeRef<html::Dialog>,
    /// Gets focus back when the dialog closes.
    opener: NodeRef<html::Button>,
) -> impl IntoView {
    let export_type = RwSignal::new(ExportType::SelectedRecords);
    let format = RwSignal::new(ExportFormat::Csv);
    let entities = RwSignal::new(Vec::<EntityType>::new());
    let pending = action.pending();

    let choose_type = move |chosen: ExportType| {
        export_type.set(chosen);
        if !chosen.formats().contains(&format.get_untracked()) {
            format.set(chosen.formats()[0]);
        }
        if let Entities::Choose(allowed) = chosen.entities() {
            entities.update(|picked| picked.retain(|entity| allowed.contains(entity)));
        }
    };

    let field_error = move |name: &'static str| {
        move || match action.value().get() {
            Some(Err(AppError::Validation { field, message })) if field == name => {
                Some(view! { <p class="field-error" role="alert">{message}</p> })
            }
            _ => None,
        }
    };
    let general_error = move || match action.value().get() {
        Some(Err(AppError::Validation { .. })) | Some(Ok(_)) | None => None,
        Some(Err(error)) => Some(view! { <p class="form-error" role="alert">{error.to_string()}</p> }),
    };

    let close = move || {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    // A created export closes the dialog and resets the form for next time.
    Effect::watch(
        move || action.version().get(),
        move |_, _, _| {
            if matches!(action.value().get_untracked(), Some(Ok(_))) {
                close();
                entities.set(Vec::new());
            }
        },
        false,
    );

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        action.dispatch(CreateExportRequest {
            request: NewExport {
                export_type: export_type.get_untracked().key().to_owned(),
                export_format: format.get_untracked().key().to_owned(),
                entity_types: entities
                    .get_untracked()
                    .iter()
                    .map(|e| e.key().to_owned())
                    .collect(),
            },
        });
    };

    view! {
        <dialog
            node_ref=dialog
            class="modal"
            aria-labelledby="new-export-title"
            on:close=move |_| {
                if let Some(opener) = opener.get_untracked() {
                    let _ = opener.focus();
                }
            }
        >
            <form class="modal-body" on:submit=submit novalidate>
                <h2 id="new-export-title">"New export"</h2>
                <fieldset class="choices">
                    <legend>"Export type"</legend>
                    {ExportType::ALL
                        .into_iter()
                        .map(|option| {
                            view! {
                                <label class="choice">
                                    <input
                                        type="radio"
                                        name="export_type"
                                        value=option.key()
                                        prop:checked=move || export_type.get() == option
                                        on:change=move |_| choose_type(option)
                                    />
                                    <span class="choice-text">
                                        <span class="choice-label">{option.label()}</span>
                                        <span class="choice-help">{option.description()}</span>
                                    </span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                {field_error("export_type")}
                <div class="field">
                    <label for="export-format">"Format"</label>
                    <select
                        id="export-format"
                        name="export_format"
                        prop:value=move || format.get().key()
                        on:change=move |event| {
                            if let Some(chosen) = ExportFormat::from_key(&event_target_value(&event)) {
                                format.set(chosen);
                            }
                        }
                    >
                        {move || {
                            export_type
                                .get()
                                .formats()
                                .iter()
                                .map(|option| {
                                    view! {
                                        <option value=option.key() selected=move || format.get() == *option>
                                            {option.label()}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </div>
                {field_error("export_format")}
                {move || match export_type.get().entities() {
                    Entities::Choose(allowed) => view! {
                        <fieldset class="choices choices-inline">
                            <legend>"Record types"</legend>
                            {allowed
                                .iter()
                                .map(|entity| {
                                    let entity = *entity;
                                    view! {
                                        <label class="check">
                                            <input
                                                type="checkbox"
                                                name="entity_types"
                                                value=entity.key()
                                                prop:checked=move || entities.get().contains(&entity)
                                                on:change=move |event| {
                                                    let on = event_target_checked(&event);
                                                    entities.update(|picked| {
                                                        picked.retain(|e| *e != entity);
                                                        if on {
                                                            picked.push(entity);
                                                        }
                                                    });
                                                }
                                            />
                                            {entity.label()}
                                        </label>
                                    }
                                })
                                .collect_view()}
                        </fieldset>
                    }
                    .into_any(),
                    Entities::Fixed(fixed) => {
                        let names: Vec<&str> = fixed.iter().map(|e| e.label()).collect();
                        view! { <p class="covers">"Covers: " {names.join(", ")}</p> }.into_any()
                    }
                }}
                {field_error("entity_types")}
                {general_error}
                <div class="modal-actions">
                    <button type="button" class="btn btn-secondary" on:click=move |_| close()>
                        "Cancel"
                    </button>
                    <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                        {move || if pending.get() { "Requesting…" } else { "Request export" }}
                    </button>
                </div>
            </form>
        </dialog>
    }
}
