//! The New Export dialog's dates: a preset, or From and To, as days of the organisation's zone.

use leptos::prelude::*;

use super::{Calendar, choice::Choice};
use crate::exports::scope::{FIRST_DATE, LAST_DATE, Preset};

/// The value of the period list when the dates were typed in.
const CUSTOM: &str = "custom";

#[component]
pub(super) fn DatesField(choice: Choice, calendar: Calendar) -> impl IntoView {
    let Calendar { time_zone, today } = calendar;
    let choose = move |event| {
        let key = event_target_value(&event);
        match Preset::ALL.into_iter().find(|preset| preset.key() == key) {
            Some(preset) => choice.choose_preset(preset, today),
            None => choice.preset.set(None),
        }
    };
    view! {
        <fieldset class="choices dates">
            <legend>"Dates"</legend>
            <p class="choice-help">{format!("Days in {time_zone}, both included.")}</p>
            <div class="field">
                <label for="export-period">"Period"</label>
                <select
                    id="export-period"
                    prop:value=move || choice.preset.get().map_or(CUSTOM, Preset::key)
                    on:change=choose
                >
                    {Preset::ALL
                        .map(|preset| view! { <option value=preset.key()>{preset.label()}</option> })}
                    <option value=CUSTOM>"Custom dates"</option>
                </select>
            </div>
            <div class="date-pair">
                <DateInput choice field=choice.date_from id="export-from" label="From" />
                <DateInput choice field=choice.date_to id="export-to" label="To" />
            </div>
            <UndatedNote choice />
        </fieldset>
    }
}

/// One of From and To: typing in it leaves the preset.
#[component]
fn DateInput(
    choice: Choice,
    field: RwSignal<String>,
    id: &'static str,
    label: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                type="date"
                id=id
                min=FIRST_DATE.to_string()
                max=LAST_DATE.to_string()
                prop:value=move || field.get()
                on:input=move |event| choice.type_date(field, event_target_value(&event))
            />
        </div>
    }
}

/// Which covered record types have no date, and so are exported whole whatever the dates.
#[component]
fn UndatedNote(choice: Choice) -> impl IntoView {
    move || {
        let undated: Vec<&str> = choice
            .covered()
            .into_iter()
            .filter(|entity| entity.date_column().is_none())
            .map(|entity| entity.label())
            .collect();
        (!undated.is_empty()).then(|| {
            let verb = if undated.len() == 1 { "has" } else { "have" };
            view! {
                <p class="covers">
                    {format!("{} {verb} no date: exported whole.", undated.join(", "))}
                </p>
            }
        })
    }
}
