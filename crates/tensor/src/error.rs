//! Typed errors for every tensor operation. Bad input never panics.

use crate::{DType, Device};

/// Everything a tensor operation can refuse.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TensorError {
    #[error("{op}: shapes {lhs:?} and {rhs:?} are incompatible")]
    ShapeMismatch {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    #[error("{op}: {reason}")]
    InvalidShape { op: &'static str, reason: String },
    #[error("{op}: axis {axis} is out of range for a tensor of rank {rank}")]
    InvalidAxis {
        op: &'static str,
        axis: isize,
        rank: usize,
    },
    #[error("{op}: dimension {axis} is empty, the result is undefined")]
    EmptyDimension { op: &'static str, axis: usize },
    #[error("{op}: tensors live on different devices ({lhs} and {rhs})")]
    DeviceMismatch {
        op: &'static str,
        lhs: Device,
        rhs: Device,
    },
    #[error("{op}: tensors have different element types ({lhs} and {rhs})")]
    DTypeMismatch {
        op: &'static str,
        lhs: DType,
        rhs: DType,
    },
    #[error("{op}: element type {dtype} is not supported on {device}")]
    UnsupportedDType {
        op: &'static str,
        dtype: DType,
        device: Device,
    },
    #[error("{op}: {len} elements given for shape {shape:?} ({expected} expected)")]
    DataLength {
        op: &'static str,
        len: usize,
        shape: Vec<usize>,
        expected: usize,
    },
    #[error("{op}: index {index} is out of range for a dimension of size {size}")]
    IndexOutOfRange {
        op: &'static str,
        index: usize,
        size: usize,
    },
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument { op: &'static str, reason: String },
    #[error("{op}: the tensor is on {device}, not in host memory (copy it with `to_device(Device::Cpu)` first)")]
    NotOnHost { op: &'static str, device: Device },
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable { device: Device, reason: String },
    #[error("CUDA error on {device}: {message}")]
    Cuda { device: Device, message: String },
}

/// Result alias for tensor operations.
pub type Result<T> = std::result::Result<T, TensorError>;
