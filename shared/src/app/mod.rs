//! The use cases, each a function (or, for the worker, a loop) over the ports: what every
//! runtime's routes, the worker and `ragbase eval` run, so they all do the same thing.

pub mod documents;
pub mod pipeline;
pub mod profiles;
pub mod reconciler;
pub mod search;
pub mod worker;
