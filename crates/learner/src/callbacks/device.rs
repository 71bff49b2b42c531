//! [`DeviceCallback`]: the lesson's `CudaCallback`, for any device.

use layers::ModuleExt;
use tensor::Device;

use crate::runner::{Callback, CbResult, Ctx, Flow};

/// Moves the model (and any optimiser state) to a device once at `begin_fit`, and every
/// batch that is not already there at `begin_batch`. Build the data bunch on the device
/// (see [`crate::data::mnist_bunch`]) and the per-batch move is a no-op: the dataset is
/// copied once and batches are gathered there.
#[derive(Debug)]
pub struct DeviceCallback {
    device: Device,
}

impl DeviceCallback {
    /// Places everything on `device`.
    pub fn new(device: Device) -> Self {
        DeviceCallback { device }
    }

    /// The target device.
    pub fn device(&self) -> Device {
        self.device
    }
}

impl Callback for DeviceCallback {
    fn name(&self) -> &'static str {
        "device"
    }

    fn begin_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        ctx.learn.model.to_device(self.device)?;
        let moved = ctx
            .learn
            .opt
            .momentum_buffers()
            .iter()
            .map(|b| b.as_ref().map(|t| t.to_device(self.device)).transpose())
            .collect::<tensor::Result<Vec<_>>>()?;
        ctx.learn.opt.set_momentum_buffers(moved)?;
        Ok(Flow::Continue)
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let st = &mut *ctx.state;
        for slot in [&mut st.xb, &mut st.yb] {
            if let Some(t) = slot {
                if t.device() != self.device {
                    *slot = Some(t.to_device(self.device)?);
                }
            }
        }
        Ok(Flow::Continue)
    }
}
