//! Fused losses: log-softmax (`dx = dy - softmax * sum dy`) and log-softmax +
//! cross-entropy (`dz = (softmax(z) - onehot(t)) g / N`), one node each.

use tensor::Result;

use crate::Var;

impl Var {
    /// Log-softmax over the last axis of `[N, C]`.
    pub fn log_softmax(&self) -> Result<Var> {
        let out = self.value().log_softmax()?;
        let y = out.clone();
        Ok(Var::from_fn(out, &[self], "log_softmax", move |g| {
            Ok(vec![Some(y.log_softmax_backward(g)?)])
        }))
    }

    /// Mean cross-entropy of logits `self` against class ids `targets` (a constant).
    pub fn cross_entropy(&self, targets: &Var) -> Result<Var> {
        let z = self.value();
        let t = targets.value();
        let out = z.cross_entropy(&t)?;
        Ok(Var::from_fn(
            out,
            &[self, targets],
            "cross_entropy",
            move |g| Ok(vec![Some(z.cross_entropy_backward(&t, g)?), None]),
        ))
    }
}
