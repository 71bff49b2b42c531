//! Optimisers. The lesson uses plain SGD; momentum and weight decay are optional.

mod sgd;

pub use sgd::{Sgd, SgdState, HYPER_NAMES};
