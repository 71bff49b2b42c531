//! norms
