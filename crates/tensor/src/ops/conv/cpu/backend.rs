//! [`ConvOps`] for the CPU backend: host storage in, host storage out, through the kernels
//! of this folder.

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
        let storage = match host_pair("conv2d", x, w)? {
            HostPair::F32(x, w) => {
                let b = bias.map(|b| match b {
                    CpuStorage::F32(v) => v.as_slice(),
                    CpuStorage::F64(_) => unreachable!("dtype checked by Tensor::conv2d"),
                });
                let mut y = vec![0f32; g.output_len()];
                super::forward(g, x, w, b, &mut y);
                CpuStorage::F32(y.into())
            }
            HostPair::F64(x, w) => {
                let b = bias.map(|b| match b {
                    CpuStorage::F64(v) => v.as_slice(),
                    CpuStorage::F32(_) => unreachable!("dtype checked by Tensor::conv2d"),
                });
                let mut y = vec![0f64; g.output_len()];
                super::forward(g, x, w, b, &mut y);
                CpuStorage::F64(y.into())
            }
        };
        Ok(Tensor::from_cpu_storage(
            storage,
            vec![g.batch, g.c_out, g.h_out, g.w_out],
        ))
    }

    fn conv2d_backward_input(&self, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
        let storage = match host_pair("conv2d_backward_input", dy, w)? {
            HostPair::F32(dy, w) => {
                let mut dx = vec![0f32; g.input_len()];
                super::backward_input(g, dy, w, &mut dx);
                CpuStorage::F32(dx.into())
            }
            HostPair::F64(dy, w) => {
                let mut dx = vec![0f64; g.input_len()];
                super::backward_input(g, dy, w, &mut dx);
                CpuStorage::F64(dx.into())
            }
        };
        Ok(Tensor::from_cpu_storage(
            storage,
            vec![g.batch, g.c_in, g.h_in, g.w_in],
        ))
    }

    fn conv2d_backward_weight(
        &self,
        g: &Conv2dGeometry,
        dy: &Tensor,
        x: &Tensor,
    ) -> Result<Tensor> {
        let storage = match host_pair("conv2d_backward_weight", dy, x)? {
            HostPair::F32(dy, x) => {
                let mut dw = vec![0f32; g.weight_len()];
                super::backward_weight(g, dy, x, &mut dw);
                CpuStorage::F32(dw.into())
            }
            HostPair::F64(dy, x) => {
                let mut dw = vec![0f64; g.weight_len()];
                super::backward_weight(g, dy, x, &mut dw);
                CpuStorage::F64(dw.into())
            }
        };
        Ok(Tensor::from_cpu_storage(
            storage,
            vec![g.c_out, g.c_in, g.k_h, g.k_w],
        ))
    }

    fn conv2d_backward_bias(&self, g: &Conv2dGeometry, dy: &Tensor) -> Result<Tensor> {
        let storage = match host(dy)? {
            CpuStorage::F32(dy) => {
                let mut db = vec![0f32; g.c_out];
                super::backward_bias(g, dy, &mut db);
                CpuStorage::F32(db.into())
            }
            CpuStorage::F64(dy) => {
                let mut db = vec![0f64; g.c_out];
                super::backward_bias(g, dy, &mut db);
                CpuStorage::F64(db.into())
            }
        };
        Ok(Tensor::from_cpu_storage(storage, vec![g.c_out]))
    }
}
