//! The API's wire format: query strings and bodies as clients send them, and answers as they
//! read them (camelCase names, the original service's fields). Domain types know no JSON; each
//! wire type converts from or into its domain value here.
//! Each wire type also describes itself for the OpenAPI document (`super::openapi`).

mod analytics;
mod bulk;
mod chunks;
mod documents;
mod errors;
mod events;
mod probes;
mod profiles;
mod search;

pub use self::{
    analytics::*, bulk::*, chunks::*, documents::*, errors::*, events::*, probes::*, profiles::*,
    search::*,
};
