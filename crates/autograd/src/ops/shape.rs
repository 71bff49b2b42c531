//! Shape ops: the gradient of a reshape is reshaped back, of a permute permuted back, of a
//! broadcast summed back, of a row gather scattered (added) back.

use tensor::Result;

use crate::Var;

impl Var {
    /// Same elements, new shape.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var> {
        let x = self.value();
        let out = x.reshape(shape)?;
        let in_shape = x.shape().to_vec();
        Ok(Var::from_fn(out, &[self], "reshape", move |g| {
            Ok(vec![Some(g.reshape(&in_shape)?)])
        }))
    }

    /// Flattens dimensions from `start` on.
    pub fn flatten_from(&self, start: usize) -> Result<Var> {
        let shape = self.value().flatten_from(start)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// Reorders dimensions.
    pub fn permute(&self, axes: &[usize]) -> Result<Var> {
        let out = self.value().permute(axes)?;
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        Ok(Var::from_fn(out, &[self], "permute", move |g| {
            Ok(vec![Some(g.permute(&inverse)?)])
        }))
    }

    /// Broadcasts to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var> {
        let x = self.value();
        let out = x.broadcast_to(shape)?;
        let in_shape = x.shape().to_vec();
        Ok(Var::from_fn(out, &[self], "broadcast_to", move |g| {
            Ok(vec![Some(g.sum_to_shape(&in_shape)?)])
        }))
    }

    /// Gathers rows along axis 0.
    pub fn index_select_rows(&self, indices: &[usize]) -> Result<Var> {
        let x = self.value();
        let out = x.index_select_rows(indices)?;
        let rows = x.shape()[0];
        let idx = indices.to_vec();
        Ok(Var::from_fn(out, &[self], "index_select_rows", move |g| {
            Ok(vec![Some(g.index_add_rows(&idx, rows)?)])
        }))
    }
}
