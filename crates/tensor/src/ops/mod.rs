//! Op families. Each folder holds one family: its backend trait and public `Tensor` methods
//! (`mod.rs`), and its kernels per device side by side (`cpu.rs`, later `cuda.rs` + `.cu`).

pub mod conv;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod reduce;
pub mod update;
