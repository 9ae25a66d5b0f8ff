//! One module per command.

pub(crate) mod apply;
pub(crate) mod check;
pub(crate) mod explain;
pub(crate) mod init;
pub(crate) mod offboard;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod sync;
pub(crate) mod validate;
