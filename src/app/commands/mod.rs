//! One module per command.

pub mod apply;
pub mod check;
pub mod explain;
pub mod offboard;
pub mod plan;
pub mod report;
pub mod validate;
