//! How long the organisation keeps completed files, and, for holders of the settings permission,
//! a form to change it (1 hour to 30 days); a plain form that works without JavaScript.

use std::time::Duration;

use leptos::prelude::*;

use super::ExportsResource;
use crate::{
    api::exports::SetExportRetention,
    auth::model::Permission,
    error::AppError,
    exports::model::Retention,
    format,
    ui::components::{error_message::ErrorMessage, permission_gate::PermissionGate},
};

#[component]
pub(super) fn RetentionSetting(
    exports: ExportsResource,
    action: ServerAction<SetExportRetention>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                exports
                    .await
                    .ok()
                    .map(|list| {
                        let retention = list.retention;
                        view! {
                            <div class="retention">
                                <p class="retention-text">{sentence(retention)}</p>
                                <PermissionGate permission=Permission::ManageExportSettings quiet=true>
                                    <RetentionForm retention action />
                                </PermissionGate>
                            </div>
                        }
                    })
            })}
        </Transition>
    }
}

/// "Completed files are kept for 7 days, then deleted (the default)."
fn sentence(retention: Retention) -> String {
    let kept = format::duration(Duration::from_secs(retention.secs));
    let whose = if retention.chosen { "" } else { " (the default)" };
    format!("Completed files are kept for {kept}, then deleted{whose}.")
}

#[component]
fn RetentionForm(retention: Retention, action: ServerAction<SetExportRetention>) -> impl IntoView {
    let hours =
        (retention.secs / 3600).clamp(u64::from(Retention::MIN_HOURS), u64::from(Retention::MAX_HOURS));
    let refused = move || match action.value().get() {
        Some(Err(AppError::Validation { message, .. })) => Some(message),
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <ActionForm action attr:class="inline-form retention-form">
            <label for="retention-hours">"Keep files for"</label>
            <input
                id="retention-hours"
                name="hours"
                type="number"
                inputmode="numeric"
                min=Retention::MIN_HOURS
                max=Retention::MAX_HOURS
                required
                value=hours
                aria-describedby="retention-hint"
            />
            <span id="retention-hint">"hours (1 to 720)"</span>
            <button type="submit" class="btn btn-secondary btn-small">"Save"</button>
        </ActionForm>
        {move || refused().map(|message| view! { <ErrorMessage message /> })}
    }
}
