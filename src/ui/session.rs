//! The signed-in user as the UI sees it: one resource, shared through context and refetched
//! after every sign-in and sign-out.

use leptos::prelude::*;

use crate::{
    auth::{CurrentUser, Login, Logout, current_user},
    error::AppError,
};

/// Sign-in and sign-out actions and the user they produce.
#[derive(Clone, Copy)]
pub struct Session {
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
}

/// Creates the session context; call once, at the top of the app.
pub fn provide_session() {
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let user = Resource::new(
        move || (login.version().get(), logout.version().get()),
        |_| current_user(),
    );
    provide_context(Session { login, logout, user });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}
