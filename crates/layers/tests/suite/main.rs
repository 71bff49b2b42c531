//! The `layers` test suite: one test binary, one file per topic, using only the public API.

mod checkpoint;
mod forward;
mod gradcheck;
mod init;
mod model;
mod pytorch;
mod state;
mod support;
