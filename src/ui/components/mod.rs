//! Reusable pieces of the UI.

pub mod icons;
pub mod permission_gate;
