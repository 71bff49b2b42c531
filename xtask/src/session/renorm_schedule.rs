//! [`RenormClip`]: relaxes every Batch Renormalization layer's `rmax`/`dmax` over training,
//! as Ioffe (2017) does: plain batch norm (`rmax = 1`, `dmax = 0`) while the running
//! statistics warm up, then a linear ramp to `rmax = 3`, `dmax = 5`.

use layers::ModuleExt;
use learner::runner::{Callback, CbResult, Ctx, Flow};
use norms::BatchRenorm;

/// Before every training batch at position `p` (0 to 1 over the fit): `t = clamp((p -
/// WARM) / (RAMP - WARM), 0, 1)`, `rmax = 1 + 2 t`, `dmax = 5 t`, set on every
/// [`BatchRenorm`] of the model.
#[derive(Debug, Default)]
pub struct RenormClip;

impl RenormClip {
    /// Until this position the layers are batch norm.
    pub const WARM: f64 = 0.05;
    /// From this position on the bounds are at their final values.
    pub const RAMP: f64 = 0.5;
    /// Final bounds.
    pub const FINAL: (f64, f64) = (3.0, 5.0);

    /// The bounds at position `pos`.
    pub fn at(pos: f64) -> (f64, f64) {
        let t = ((pos - Self::WARM) / (Self::RAMP - Self::WARM)).clamp(0.0, 1.0);
        (1.0 + (Self::FINAL.0 - 1.0) * t, Self::FINAL.1 * t)
    }
}

impl Callback for RenormClip {
    fn name(&self) -> &'static str {
        "renorm_clip"
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if ctx.state.in_train {
            let (rmax, dmax) = Self::at(ctx.state.pos());
            for (_, m) in ctx.learn.model.named_modules() {
                if let Some(rn) = m.as_any().downcast_ref::<BatchRenorm>() {
                    rn.set_clip(rmax, dmax).map_err(tensor::TensorError::from)?;
                }
            }
        }
        Ok(Flow::Continue)
    }
}
