//! The frame around every page: the top bar (with the signed-in user), the main content area,
//! and the island that shows its times in the reader's zone.

use leptos::prelude::*;

use crate::{
    routes::{EXPORTS_PAGE, LOGIN_PAGE},
    ui::{components::local_time::LocalTimes, session::use_session},
};

/// Top bar with the product name and the user menu, then the routed page.
#[component]
pub fn AppLayout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href=EXPORTS_PAGE>
                <span class="brand-mark" aria-hidden="true">"⇪"</span>
                "Exports"
            </a>
            <UserMenu />
        </header>
        <main class="content">{children()}</main>
        <LocalTimes />
    }
}

/// Who is signed in, in which organisation, and a sign-out button.
#[component]
fn UserMenu() -> impl IntoView {
    let session = use_session();
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => view! {
                            <span class="user-name">{user.display_name}</span>
                            <span class="user-org">{user.organization_name}</span>
                            <ActionForm action=session.logout>
                                <button type="submit" class="btn btn-secondary btn-small">"Sign out"</button>
                            </ActionForm>
                        }
                            .into_any(),
                        _ => view! { <a class="btn btn-secondary btn-small" href=LOGIN_PAGE>"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}
