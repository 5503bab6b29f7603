//! The sign-in page at `/login`. A plain form, so it works before (and without) the WASM bundle.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{api::auth::Login, ui::components::error_message::ErrorMessage};

#[component]
pub fn LoginPage() -> impl IntoView {
    // Created here, inside the routes: that is where the router provides an error the server
    // sent back in the URL after a sign-in attempt without JavaScript.
    let login = ServerAction::<Login>::new();
    let error = move || login.value().get().and_then(Result::err);

    view! {
        <Title text="Sign in" />
        <section class="auth-card">
            <h1>"Sign in"</h1>
            <p class="subtitle">"Use your organisation account."</p>
            <ActionForm action=login>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required />
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required />
                </div>
                {move || error().map(|error| view! { <ErrorMessage message=error.to_string() /> })}
                <button type="submit" class="btn btn-primary btn-block" disabled=move || login.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}
