//! Everything the user sees: the page layout, the pages and their components.

pub mod components;
pub mod layout;
pub mod pages;
pub mod session;
