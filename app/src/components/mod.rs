//! Pieces the pages share: the console layout, the theme switch, and small UI parts.

pub mod compose_editor;
pub mod dashboard;
pub mod layout;
pub mod observe;
pub mod table;
pub mod theme;
pub mod traffic;
pub mod ui;
