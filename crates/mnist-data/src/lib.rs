//! mnist-data
