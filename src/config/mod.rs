//! `agents.yaml`: where it lives, its schema, how it is read leniently and
//! checked strictly, how it is written back without losing anything, and the
//! rules for names and values shared by every way of editing it, the one
//! model of a change to an agent (`patch`), and what such a change grants.
//! Also the cheap, read-only look at an agent's project directory.

pub mod backend_name;
pub mod decode;
pub mod directory;
pub mod encode;
pub mod grants;
pub mod json_schema;
pub mod patch;
pub mod paths;
pub mod project;
pub mod remote;
pub mod rules;
pub mod schema;
pub mod store;
pub mod yaml;

pub use backend_name::BackendName;
pub use paths::Paths;
pub use schema::{Agent, CacheSettings, Config, Group, GroupMember, Settings};
