//! cuDNN for the three convolution passes.
//!
//! For every `(geometry, dtype)` met, a [`ConvPlan`] is made once: the tensor, filter and
//! convolution descriptors (NCHW, cross-correlation, FMA math so `f32` never runs on TF32
//! tensor cores) and, per pass, an algorithm chosen from cuDNN's heuristics — the first
//! that cuDNN reports usable, is in an accuracy allow-list (no FFT or Winograd, whose `f32`
//! error is far above plain accumulation) and needs at most [`MAX_WORKSPACE`] bytes,
//! deterministic algorithms first. The workspace is one buffer per device, grown to the
//! largest size any plan needs and reused (the single stream orders its uses). A pass with
//! no acceptable algorithm reports `false` and the caller runs the im2col path instead.

use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Arc, Mutex};

use cudarc::cudnn::{result as dnn, sys};
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr};

use super::error::CudaResultExt;
use super::CudaBackend;
use crate::{Conv2dGeometry, DType, Result};

/// Largest workspace an algorithm may ask for.
const MAX_WORKSPACE: usize = 1 << 30;

/// One of the three passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// `y = conv(x, w)`.
    Forward,
    /// `dx = conv_transpose(dy, w)`.
    BackwardData,
    /// `dw = corr(x, dy)`.
    BackwardFilter,
}

/// The cuDNN state of one device; a mutex serialises use of the handle (cuDNN handles
/// must not be used from two threads at once).
pub(crate) struct Dnn {
    state: Mutex<DnnState>,
}

struct DnnState {
    handle: Handle,
    plans: HashMap<(Conv2dGeometry, DType), Option<ConvPlan>>,
    workspace: Option<CudaSlice<u8>>,
}

// SAFETY: the raw cuDNN handle and descriptors are plain host objects usable from any
// thread; all access goes through the mutex in `Dnn`, so there is never concurrent use.
unsafe impl Send for DnnState {}

struct Handle(sys::cudnnHandle_t);
impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by `create_handle`, destroyed once.
        let _ = unsafe { dnn::destroy_handle(self.0) };
    }
}

struct TensorDesc(sys::cudnnTensorDescriptor_t);
impl Drop for TensorDesc {
    fn drop(&mut self) {
        // SAFETY: created by `create_tensor_descriptor`, destroyed once.
        let _ = unsafe { dnn::destroy_tensor_descriptor(self.0) };
    }
}

struct FilterDesc(sys::cudnnFilterDescriptor_t);
impl Drop for FilterDesc {
    fn drop(&mut self) {
        // SAFETY: created by `create_filter_descriptor`, destroyed once.
        let _ = unsafe { dnn::destroy_filter_descriptor(self.0) };
    }
}

struct ConvDesc(sys::cudnnConvolutionDescriptor_t);
impl Drop for ConvDesc {
    fn drop(&mut self) {
        // SAFETY: created by `create_convolution_descriptor`, destroyed once.
        let _ = unsafe { dnn::destroy_convolution_descriptor(self.0) };
    }
}

/// Descriptors and chosen algorithms (with workspace bytes) for one geometry and dtype.
struct ConvPlan {
    x: TensorDesc,
    w: FilterDesc,
    y: TensorDesc,
    conv: ConvDesc,
    forward: Option<(sys::cudnnConvolutionFwdAlgo_t, usize)>,
    backward_data: Option<(sys::cudnnConvolutionBwdDataAlgo_t, usize)>,
    backward_filter: Option<(sys::cudnnConvolutionBwdFilterAlgo_t, usize)>,
}

fn data_type(dtype: DType) -> sys::cudnnDataType_t {
    match dtype {
        DType::F32 => sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
        DType::F64 => sys::cudnnDataType_t::CUDNN_DATA_DOUBLE,
    }
}

fn dims(v: &[usize]) -> Option<[c_int; 4]> {
    let mut out = [0 as c_int; 4];
    for (o, &d) in out.iter_mut().zip(v) {
        *o = c_int::try_from(d).ok()?;
    }
    Some(out)
}

impl Dnn {
    /// A cuDNN handle on `stream`.
    pub(crate) fn new(stream: &Arc<CudaStream>) -> std::result::Result<Self, String> {
        stream
            .context()
            .bind_to_thread()
            .map_err(|e| e.to_string())?;
        let handle = Handle(dnn::create_handle().map_err(|e| format!("{e:?}"))?);
        // SAFETY: valid handle and stream of the same context.
        unsafe { dnn::set_stream(handle.0, stream.cu_stream() as sys::cudaStream_t) }
            .map_err(|e| format!("{e:?}"))?;
        Ok(Dnn {
            state: Mutex::new(DnnState {
                handle,
                plans: HashMap::new(),
                workspace: None,
            }),
        })
    }

    /// Enqueues `pass` for geometry `g` on cuDNN. Operands are device addresses:
    /// forward `(x, w) -> y`, backward data `(dy, w) -> dx`, backward filter
    /// `(x, dy) -> dw`, each output overwritten. Returns `Ok(false)` when cuDNN has no
    /// acceptable algorithm for this case (nothing was enqueued).
    pub(crate) fn run(
        &self,
        backend: &CudaBackend,
        pass: Pass,
        g: &Conv2dGeometry,
        dtype: DType,
        in0: u64,
        in1: u64,
        out: u64,
    ) -> Result<bool> {
        let ordinal = backend.ordinal();
        backend.ctx.bind_to_thread().cuda(ordinal, "cuDNN")?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let handle = state.handle.0;
        let plan = state
            .plans
            .entry((*g, dtype))
            .or_insert_with(|| ConvPlan::new(handle, g, dtype));
        let Some(plan) = plan.as_mut() else {
            return Ok(false);
        };
        let bytes = match pass {
            Pass::Forward => plan.forward.map(|a| a.1),
            Pass::BackwardData => plan.backward_data.map(|a| a.1),
            Pass::BackwardFilter => plan.backward_filter.map(|a| a.1),
        };
        let Some(bytes) = bytes else {
            return Ok(false);
        };
        let workspace = ensure_workspace(&mut state.workspace, backend, bytes)?;
        let ws_ptr = workspace.map_or(std::ptr::null_mut(), |w| {
            w.device_ptr(backend.stream()).0 as *mut std::ffi::c_void
        });
        let (one_f, zero_f) = (1.0f32, 0.0f32);
        let (one_d, zero_d) = (1.0f64, 0.0f64);
        let (alpha, beta): (*const std::ffi::c_void, *const std::ffi::c_void) = match dtype {
            DType::F32 => (
                (&one_f as *const f32).cast(),
                (&zero_f as *const f32).cast(),
            ),
            DType::F64 => (
                (&one_d as *const f64).cast(),
                (&zero_d as *const f64).cast(),
            ),
        };
        let (p0, p1, po) = (
            in0 as *const std::ffi::c_void,
            in1 as *const std::ffi::c_void,
            out as *mut std::ffi::c_void,
        );
        // SAFETY: descriptors describe the operands' shapes and dtype exactly (made from
        // `g` and `dtype`); the addresses are live allocations of this device of those
        // sizes; the workspace holds at least `bytes` bytes; alpha/beta point at host
        // scalars of the element type that outlive the call.
        let status = unsafe {
            match pass {
                Pass::Forward => {
                    let (algo, _) = plan.forward.expect("checked above");
                    dnn::convolution_forward(
                        handle,
                        alpha,
                        plan.x.0,
                        p0,
                        plan.w.0,
                        p1,
                        plan.conv.0,
                        algo,
                        ws_ptr,
                        bytes,
                        beta,
                        plan.y.0,
                        po,
                    )
                }
                Pass::BackwardData => {
                    let (algo, _) = plan.backward_data.expect("checked above");
                    dnn::convolution_backward_data(
                        handle,
                        alpha,
                        plan.w.0,
                        p1,
                        plan.y.0,
                        p0,
                        plan.conv.0,
                        algo,
                        ws_ptr,
                        bytes,
                        beta,
                        plan.x.0,
                        po,
                    )
                }
                Pass::BackwardFilter => {
                    let (algo, _) = plan.backward_filter.expect("checked above");
                    dnn::convolution_backward_filter(
                        handle,
                        alpha,
                        plan.x.0,
                        p0,
                        plan.y.0,
                        p1,
                        plan.conv.0,
                        algo,
                        ws_ptr,
                        bytes,
                        beta,
                        plan.w.0,
                        po,
                    )
                }
            }
        };
        match status {
            Ok(()) => Ok(true),
            Err(e) if refusal(e.0) => {
                // cuDNN declined this case at run time (unsupported, a sub-library missing):
                // remember it and let the caller take the im2col path from now on.
                plan.disable(pass);
                Ok(false)
            }
            Err(e) => Err(format!("{e:?}")).cuda(ordinal, "cuDNN convolution"),
        }
    }
}

/// Whether a failed cuDNN call is a refusal (initialisation, a missing sub-library, a
/// parameter or feature it does not support) rather than a failure while running: status
/// codes below 4000 (`CUDNN_STATUS_INTERNAL_ERROR`).
fn refusal(status: sys::cudnnStatus_t) -> bool {
    (status as u32) < 4000
}

/// The device's shared workspace, grown to at least `bytes` (none needed for 0).
fn ensure_workspace<'a>(
    slot: &'a mut Option<CudaSlice<u8>>,
    backend: &CudaBackend,
    bytes: usize,
) -> Result<Option<&'a CudaSlice<u8>>> {
    if bytes == 0 {
        return Ok(None);
    }
    if slot.as_ref().is_none_or(|w| w.len() < bytes) {
        // The old buffer is freed stream-ordered, after the work already enqueued on it.
        *slot = None;
        // SAFETY: workspace contents are never read before cuDNN writes them.
        let ws = unsafe { backend.stream().alloc::<u8>(bytes) }
            .cuda(backend.ordinal(), "allocating the cuDNN workspace")?;
        *slot = Some(ws);
    }
    Ok(slot.as_ref())
}

impl ConvPlan {
    /// Stops using cuDNN for `pass` of this case.
    fn disable(&mut self, pass: Pass) {
        match pass {
            Pass::Forward => self.forward = None,
            Pass::BackwardData => self.backward_data = None,
            Pass::BackwardFilter => self.backward_filter = None,
        }
    }

    /// Descriptors and algorithms for `g`, or `None` when cuDNN cannot describe it.
    fn new(handle: sys::cudnnHandle_t, g: &Conv2dGeometry, dtype: DType) -> Option<ConvPlan> {
        let dt = data_type(dtype);
        let nchw = sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW;
        let xd = dims(&[g.batch, g.c_in, g.h_in, g.w_in])?;
        let wd = dims(&[g.c_out, g.c_in, g.k_h, g.k_w])?;
        let yd = dims(&[g.batch, g.c_out, g.h_out, g.w_out])?;
        let pad = c_int::try_from(g.padding).ok()?;
        let stride = c_int::try_from(g.stride).ok()?;
        // SAFETY: descriptors are created here and configured before any use; every
        // failure drops (destroys) what was made so far.
        unsafe {
            let x = TensorDesc(dnn::create_tensor_descriptor().ok()?);
            dnn::set_tensor4d_descriptor(x.0, nchw, dt, xd).ok()?;
            let y = TensorDesc(dnn::create_tensor_descriptor().ok()?);
            dnn::set_tensor4d_descriptor(y.0, nchw, dt, yd).ok()?;
            let w = FilterDesc(dnn::create_filter_descriptor().ok()?);
            dnn::set_filter4d_descriptor(w.0, dt, nchw, wd).ok()?;
            let conv = ConvDesc(dnn::create_convolution_descriptor().ok()?);
            dnn::set_convolution2d_descriptor(
                conv.0,
                pad,
                pad,
                stride,
                stride,
                1,
                1,
                sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                dt,
            )
            .ok()?;
            dnn::set_convolution_math_type(conv.0, sys::cudnnMathType_t::CUDNN_FMA_MATH).ok()?;
            let mut plan = ConvPlan {
                x,
                w,
                y,
                conv,
                forward: None,
                backward_data: None,
                backward_filter: None,
            };
            plan.forward = plan.pick_forward(handle);
            plan.backward_data = plan.pick_backward_data(handle);
            plan.backward_filter = plan.pick_backward_filter(handle);
            Some(plan)
        }
    }

    /// # Safety
    /// `handle` and the plan's descriptors are valid.
    unsafe fn pick_forward(
        &self,
        handle: sys::cudnnHandle_t,
    ) -> Option<(sys::cudnnConvolutionFwdAlgo_t, usize)> {
        use sys::cudnnConvolutionFwdAlgo_t as A;
        const N: usize = A::CUDNN_CONVOLUTION_FWD_ALGO_COUNT as usize;
        let mut perf: [sys::cudnnConvolutionFwdAlgoPerf_t; N] = unsafe { std::mem::zeroed() };
        let mut returned: c_int = 0;
        unsafe {
            dnn::get_convolution_forward_algorithm(
                handle,
                self.x.0,
                self.w.0,
                self.conv.0,
                self.y.0,
                N as c_int,
                &mut returned,
                perf.as_mut_ptr(),
            )
        }
        .ok()?;
        let found = &perf[..(returned.clamp(0, N as c_int) as usize)];
        let allowed = |a: A| {
            matches!(
                a,
                A::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM
                    | A::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM
                    | A::CUDNN_CONVOLUTION_FWD_ALGO_GEMM
                    | A::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT
            )
        };
        let algo = choose(
            found
                .iter()
                .map(|p| (p.algo, p.status, p.memory, p.determinism, p.mathType)),
            allowed,
        )?;
        let bytes = unsafe {
            dnn::get_convolution_forward_workspace_size(
                handle,
                self.x.0,
                self.w.0,
                self.conv.0,
                self.y.0,
                algo,
            )
        }
        .ok()?;
        (bytes <= MAX_WORKSPACE).then_some((algo, bytes))
    }

    /// # Safety
    /// `handle` and the plan's descriptors are valid.
    unsafe fn pick_backward_data(
        &self,
        handle: sys::cudnnHandle_t,
    ) -> Option<(sys::cudnnConvolutionBwdDataAlgo_t, usize)> {
        use sys::cudnnConvolutionBwdDataAlgo_t as A;
        const N: usize = A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT as usize;
        let mut perf: [sys::cudnnConvolutionBwdDataAlgoPerf_t; N] = unsafe { std::mem::zeroed() };
        let mut returned: c_int = 0;
        unsafe {
            dnn::get_convolution_backward_data_algorithm(
                handle,
                self.w.0,
                self.y.0,
                self.conv.0,
                self.x.0,
                N as c_int,
                &mut returned,
                perf.as_mut_ptr(),
            )
        }
        .ok()?;
        let found = &perf[..(returned.clamp(0, N as c_int) as usize)];
        let allowed = |a: A| {
            matches!(
                a,
                A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 | A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1
            )
        };
        let algo = choose(
            found
                .iter()
                .map(|p| (p.algo, p.status, p.memory, p.determinism, p.mathType)),
            allowed,
        )?;
        let bytes = unsafe {
            dnn::get_convolution_backward_data_workspace_size(
                handle,
                self.w.0,
                self.y.0,
                self.conv.0,
                self.x.0,
                algo,
            )
        }
        .ok()?;
        (bytes <= MAX_WORKSPACE).then_some((algo, bytes))
    }

    /// # Safety
    /// `handle` and the plan's descriptors are valid.
    unsafe fn pick_backward_filter(
        &self,
        handle: sys::cudnnHandle_t,
    ) -> Option<(sys::cudnnConvolutionBwdFilterAlgo_t, usize)> {
        use sys::cudnnConvolutionBwdFilterAlgo_t as A;
        const N: usize = A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT as usize;
        let mut perf: [sys::cudnnConvolutionBwdFilterAlgoPerf_t; N] = unsafe { std::mem::zeroed() };
        let mut returned: c_int = 0;
        unsafe {
            dnn::get_convolution_backward_filter_algorithm(
                handle,
                self.x.0,
                self.y.0,
                self.conv.0,
                self.w.0,
                N as c_int,
                &mut returned,
                perf.as_mut_ptr(),
            )
        }
        .ok()?;
        let found = &perf[..(returned.clamp(0, N as c_int) as usize)];
        let allowed = |a: A| {
            matches!(
                a,
                A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0
                    | A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1
                    | A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3
            )
        };
        let algo = choose(
            found
                .iter()
                .map(|p| (p.algo, p.status, p.memory, p.determinism, p.mathType)),
            allowed,
        )?;
        let bytes = unsafe {
            dnn::get_convolution_backward_filter_workspace_size(
                handle,
                self.x.0,
                self.y.0,
                self.conv.0,
                self.w.0,
                algo,
            )
        }
        .ok()?;
        (bytes <= MAX_WORKSPACE).then_some((algo, bytes))
    }
}

/// The first acceptable algorithm in cuDNN's order (fastest first): usable, allowed,
/// within the workspace limit, not on tensor cores; deterministic ones preferred.
fn choose<A: Copy>(
    found: impl Iterator<
            Item = (
                A,
                sys::cudnnStatus_t,
                usize,
                sys::cudnnDeterminism_t,
                sys::cudnnMathType_t,
            ),
        > + Clone,
    allowed: impl Fn(A) -> bool,
) -> Option<A> {
    let ok = |&(algo, status, memory, _, math): &(
        A,
        sys::cudnnStatus_t,
        usize,
        sys::cudnnDeterminism_t,
        sys::cudnnMathType_t,
    )| {
        status == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS
            && allowed(algo)
            && memory <= MAX_WORKSPACE
            && matches!(
                math,
                sys::cudnnMathType_t::CUDNN_FMA_MATH | sys::cudnnMathType_t::CUDNN_DEFAULT_MATH
            )
    };
    let deterministic = found
        .clone()
        .filter(ok)
        .find(|p| p.3 == sys::cudnnDeterminism_t::CUDNN_DETERMINISTIC);
    deterministic
        .or_else(|| found.clone().find(ok))
        .map(|p| p.0)
}
