//! The New Export dialog's purpose and recipient, asked of every export of identified data.

use leptos::prelude::*;

use super::{choice::Choice, fields::FieldError};
use crate::{
    api::exports::CreateExportRequest,
    exports::scope::{MAX_TEXT_CHARS, Purpose},
};

#[component]
pub(super) fn DisclosureFields(choice: Choice, action: ServerAction<CreateExportRequest>) -> impl IntoView {
    let needed = move || choice.export_type.get().needs_disclosure();
    let other = move || choice.purpose.get() == Purpose::Other.key();
    let text_input = move |id: &'static str, signal: RwSignal<String>, placeholder: &'static str| {
        view! {
            <input
                type="text"
                id=id
                maxlength=MAX_TEXT_CHARS
                autocomplete="off"
                placeholder=placeholder
                prop:value=move || signal.get()
                on:input=move |event| signal.set(event_target_value(&event))
            />
        }
    };
    view! {
        <Show
            when=needed
            fallback=|| {
                view! {
                    <p class="covers">
                        "A de-identified dataset holds no identifiers: no purpose or recipient is asked."
                    </p>
                }
            }
        >
            <div class="field">
                <label for="export-purpose">"Purpose"</label>
                <select
                    id="export-purpose"
                    prop:value=move || choice.purpose.get()
                    on:change=move |event| choice.purpose.set(event_target_value(&event))
                >
                    <option value="">"Choose a purpose…"</option>
                    {Purpose::ALL
                        .map(|purpose| view! { <option value=purpose.key()>{purpose.label()}</option> })}
                </select>
            </div>
            <FieldError action field="purpose" />
            <Show when=other>
                <div class="field">
                    <label for="export-purpose-detail">"Describe the purpose"</label>
                    {text_input("export-purpose-detail", choice.purpose_detail, "")}
                </div>
                <FieldError action field="purpose_detail" />
            </Show>
            <div class="field">
                <label for="export-recipient">"Recipient"</label>
                {text_input("export-recipient", choice.recipient, "internal: finance team, or the outside party's name")}
            </div>
            <FieldError action field="recipient" />
        </Show>
    }
}
