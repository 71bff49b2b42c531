//! One training session, shared by `train`, `lesson` and `bench`: settings
//! ([`RunConfig`]), data loading ([`load_splits`]), building the lesson's model
//! ([`build_model`]) and running it with the lesson's callbacks ([`execute`]).

mod config;
mod data;
mod execute;
mod model;
mod parallel;
mod renorm_schedule;
mod timestamp;

pub use config::{LrChoice, NormChoice, RunConfig};
pub use data::{check_device, fit_on, load_splits};
pub use execute::{execute, execute_on, find_lr, make_learner, RunResult};
pub use model::{build_model, build_sync_model};
pub use parallel::{launch, Launch, Parallel};
pub use renorm_schedule::RenormClip;
pub use timestamp::utc_stamp;
