//! Shapes, strides, broadcasting and axis normalisation (row-major, contiguous).

//!
//! Every shape and stride list these return is a [`Dims`]: inline up to rank 4, so the
//! shape arithmetic of an op on NCHW tensors allocates nothing.

use crate::{Dims, Result, TensorError};

/// Number of elements of a shape (1 for a scalar, shape `[]`). Callers hold shapes that
/// were validated by [`checked_numel`] on creation, so the product cannot overflow.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements, or a typed error when the product overflows `usize`.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| TensorError::InvalidShape {
            op,
            reason: format!("the element count of {shape:?} overflows"),
        })
}

/// Row-major strides of a contiguous tensor of this shape, in elements.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides = Dims::from_elem(1, shape.len());
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// NumPy broadcasting: align trailing dimensions; sizes must be equal or 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Dims> {
    let rank = a.len().max(b.len());
    let mut out = Dims::from_elem(0, rank);
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                })
            }
        };
    }
    Ok(out)
}

/// Strides (in elements) that read a contiguous tensor of shape `src` as if broadcast to
/// `dst`: broadcast dimensions get stride 0. `src` must broadcast to `dst`.
pub fn broadcast_strides(src: &[usize], dst: &[usize]) -> Dims {
    let own = contiguous_strides(src);
    let offset = dst.len() - src.len();
    (0..dst.len())
        .map(|i| {
            if i < offset || src[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}

/// Turns possibly negative axes into a sorted, de-duplicated list of valid axes.
/// An empty list means "every axis".
pub fn normalize_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Dims> {
    if axes.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut out = Dims::with_capacity(axes.len());
    for &a in axes {
        out.push(normalize_axis(op, a, rank)?);
    }
    out.sort_unstable();
    out.dedup();
    if out.len() != axes.len() {
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!("axis listed twice in {axes:?}"),
        });
    }
    Ok(out)
}

/// One possibly negative axis to a valid index.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(TensorError::InvalidAxis { op, axis, rank });
    }
    Ok(a as usize)
}

/// The shape after reducing `axes` (kept as size 1 when `keepdim`).
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Dims {
    let mut out = Dims::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[2, 3, 4], &[3, 1])
                .unwrap()
                .as_slice(),
            [2, 3, 4]
        );
        assert_eq!(
            broadcast_shapes("t", &[1], &[5, 1]).unwrap().as_slice(),
            [5, 1]
        );
        assert!(broadcast_shapes("t", &[2, 3], &[4, 3, 2]).is_err());
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]).as_slice(), [0, 1, 0]);
    }

    #[test]
    fn axes_are_normalised_and_checked() {
        assert_eq!(normalize_axes("t", &[-1, 0], 3).unwrap().as_slice(), [0, 2]);
        assert!(normalize_axes("t", &[3], 3).is_err());
        assert!(normalize_axes("t", &[1, -2], 3).is_err());
        assert_eq!(normalize_axes("t", &[], 2).unwrap().as_slice(), [0, 1]);
    }
}
