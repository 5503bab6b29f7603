//! Reusable pieces of the UI.

pub mod confirm_dialog;
pub mod error_message;
pub mod export_request_form;
pub mod icons;
pub mod local_time;
pub mod permission_gate;
pub mod status_badge;
