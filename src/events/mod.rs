//! HR events: checking a webhook delivery's signature and time (`verify`), reading the
//! employee ids it names (`payload`), and the employees waiting to be synced (`queue`).
//! No I/O here: the endpoint and the worker that use these are in `crate::app`.

pub(crate) mod payload;
pub(crate) mod queue;
pub(crate) mod verify;
