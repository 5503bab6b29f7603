//! `ErrorMessage`: the one way the UI shows an error, announced (`role="alert"`) and sized to fit.

use leptos::prelude::*;

/// Where an error appears, which decides how much room it takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorPlace {
    /// One line beside what failed: under a form field, among a row's buttons.
    Inline,
    /// A boxed sentence above a form's buttons or above a table.
    #[default]
    Banner,
    /// Instead of a whole section that could not be shown, with an optional title and a way out.
    Section,
}

/// What went wrong, in a sentence fit for the user (every `AppError`'s text is).
#[component]
pub fn ErrorMessage(
    #[prop(into)] message: Signal<String>,
    #[prop(optional)] place: ErrorPlace,
    /// A heading over the message (sections only).
    #[prop(optional)]
    title: Option<&'static str>,
    /// What the user can do about it, such as a Retry button (sections only).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    match place {
        ErrorPlace::Inline => view! { <p class="error-inline" role="alert">{message}</p> }.into_any(),
        ErrorPlace::Banner => view! { <p class="error-banner" role="alert">{message}</p> }.into_any(),
        ErrorPlace::Section => view! {
            <div class="error-section" role="alert">
                {title.map(|title| view! { <h2>{title}</h2> })}
                <p>{message}</p>
                {children.map(|children| children())}
            </div>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_announces_the_sentence() {
        let owner = Owner::new();
        owner.with(|| {
            for place in [ErrorPlace::Inline, ErrorPlace::Banner, ErrorPlace::Section] {
                let html = view! { <ErrorMessage place message="Not found." /> }.to_html();
                assert!(
                    html.contains(r#"role="alert""#) && html.contains("Not found."),
                    "{html}"
                );
            }
        });
    }
}
