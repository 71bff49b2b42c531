//! learner
pub mod report;
