//! The pieces of `cargo xtask bench` (see [`crate::cmd_bench`]).

pub mod ours;
pub mod phases;
pub mod profile_table;
pub mod stats;
pub mod svg;
pub mod torch;
