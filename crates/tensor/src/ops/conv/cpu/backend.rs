//! [`ConvOps`] for the CPU backend: host storage in, host storage out, through the kernels
//! of this folder.

use crate::cpu::pool::HostBuffer;
use crate::cpu::{host, host_pair, CpuBackend, HostPair};
use crate::ops::conv::{Conv2dGeometry, ConvOps};
use crate::{CpuStorage, Result, Tensor};

impl ConvOps for CpuBackend {
    fn conv2d(
        &self,
        g: &Conv2dGeometry,
        x: &Tensor,
        w: &Tensor,
        bias: Option<&Tensor>,
    ) -> Result<Tensor> {
        let bias = bias.map(host).transpose()?;
        let shape = [g.batch, g.c_out, g.h_out, g.w_out];
        Ok(match host_pair("conv2d", x, w)? {
            HostPair::F32(x, w) => {
                let b = bias.map(|b| match b {
                    CpuStorage::F32(v) => v.as_slice(),
                    CpuStorage::F64(_) => unreachable!("dtype checked by Tensor::conv2d"),
                });
                HostBuffer::written(&shape, |y| super::forward(g, x, w, b, y))
            }
            HostPair::F64(x, w) => {
                let b = bias.map(|b| match b {
                    CpuStorage::F64(v) => v.as_slice(),
                    CpuStorage::F32(_) => unreachable!("dtype checked by Tensor::conv2d"),
                });
                HostBuffer::written(&shape, |y| super::forward(g, x, w, b, y))
            }
        })
    }

    fn conv2d_backward_input(&self, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
        let shape = [g.batch, g.c_in, g.h_in, g.w_in];
        Ok(match host_pair("conv2d_backward_input", dy, w)? {
            HostPair::F32(dy, w) => {
                HostBuffer::written(&shape, |dx| super::backward_input(g, dy, w, dx))
            }
            HostPair::F64(dy, w) => {
                HostBuffer::written(&shape, |dx| super::backward_input(g, dy, w, dx))
            }
        })
    }

    fn conv2d_backward_weight(
        &self,
        g: &Conv2dGeometry,
        dy: &Tensor,
        x: &Tensor,
    ) -> Result<Tensor> {
        let shape = [g.c_out, g.c_in, g.k_h, g.k_w];
        Ok(match host_pair("conv2d_backward_weight", dy, x)? {
            HostPair::F32(dy, x) => {
                HostBuffer::written(&shape, |dw| super::backward_weight(g, dy, x, dw))
            }
            HostPair::F64(dy, x) => {
                HostBuffer::written(&shape, |dw| super::backward_weight(g, dy, x, dw))
            }
        })
    }

    fn conv2d_backward_bias(&self, g: &Conv2dGeometry, dy: &Tensor) -> Result<Tensor> {
        Ok(match host(dy)? {
            CpuStorage::F32(dy) => {
                HostBuffer::written(&[g.c_out], |db| super::backward_bias(g, dy, db))
            }
            CpuStorage::F64(dy) => {
                HostBuffer::written(&[g.c_out], |db| super::backward_bias(g, dy, db))
            }
        })
    }
}
