//! The signed-in user as the server renders the page for them: one resource, shared through
//! context.

use leptos::prelude::*;

use crate::{
    api::auth::{Logout, current_user},
    auth::model::CurrentUser,
    error::AppError,
};

/// The signed-in user and the sign-out action.
#[derive(Clone, Copy)]
pub struct Session {
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
}

/// Provides the session to its children; wraps the app inside the router.
#[component]
pub fn SessionProvider(children: Children) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    // Keyed on sign-outs, whose form's answer renders the next page for nobody.
    let user = Resource::new(move || logout.version().get(), |_| current_user());
    provide_context(Session { logout, user });
    children()
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}
