//! Packing tensors into one flat host buffer for a collective call, and back.
//!
//! A collective works on one contiguous `f32` or `f64` buffer; a bucket of tensors (all of
//! one dtype) is copied into one, in the bucket's order, and copied back out after the call.

use collective::Collective;
use tensor::{DType, Device, Tensor};

use crate::error::{LearnerError, Result};

/// A flat host buffer of one dtype.
#[derive(Debug)]
pub(crate) enum Flat {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Flat {
    /// An empty buffer of `dtype` with room for `len` elements.
    pub(crate) fn with_capacity(dtype: DType, len: usize) -> Self {
        match dtype {
            DType::F32 => Flat::F32(Vec::with_capacity(len)),
            DType::F64 => Flat::F64(Vec::with_capacity(len)),
        }
    }

    /// Appends `t`'s elements (of the buffer's dtype), or `numel` zeros when `t` is `None`.
    pub(crate) fn push(&mut self, t: Option<&Tensor>, numel: usize) -> Result<()> {
        match (self, t) {
            (Flat::F32(v), Some(t)) => v.extend(t.to_vec::<f32>()?),
            (Flat::F64(v), Some(t)) => v.extend(t.to_vec::<f64>()?),
            (Flat::F32(v), None) => v.resize(v.len() + numel, 0.0),
            (Flat::F64(v), None) => v.resize(v.len() + numel, 0.0),
        }
        Ok(())
    }

    /// Sums the buffer over all ranks, in rank order (see [`Collective`]).
    pub(crate) fn all_reduce_sum(&mut self, comm: &dyn Collective) -> Result<()> {
        match self {
            Flat::F32(v) => comm.all_reduce_sum_f32(v)?,
            Flat::F64(v) => comm.all_reduce_sum_f64(v)?,
        }
        Ok(())
    }

    /// Replaces the buffer by `root`'s on every rank.
    pub(crate) fn broadcast(&mut self, comm: &dyn Collective, root: usize) -> Result<()> {
        match self {
            Flat::F32(v) => comm.broadcast_f32(v, root)?,
            Flat::F64(v) => comm.broadcast_f64(v, root)?,
        }
        Ok(())
    }

    /// Multiplies every element by `s` (rounded to the buffer's precision first).
    pub(crate) fn scale(&mut self, s: f64) {
        match self {
            Flat::F32(v) => v.iter_mut().for_each(|x| *x *= s as f32),
            Flat::F64(v) => v.iter_mut().for_each(|x| *x *= s),
        }
    }

    /// The tensor of `shape` on `device` made of the elements `offset..offset + numel`.
    pub(crate) fn slice(&self, offset: usize, shape: &[usize], device: Device) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        let end = offset + numel;
        let len = match self {
            Flat::F32(v) => v.len(),
            Flat::F64(v) => v.len(),
        };
        if end > len {
            return Err(LearnerError::Data(format!(
                "a bucket of {len} elements has no elements {offset}..{end}"
            )));
        }
        Ok(match self {
            Flat::F32(v) => Tensor::from_slice(&v[offset..end], shape, device)?,
            Flat::F64(v) => Tensor::from_slice(&v[offset..end], shape, device)?,
        })
    }
}
