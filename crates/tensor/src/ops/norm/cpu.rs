//! CPU kernels of the normalisation family.

use super::NormOps;
use crate::cpu::CpuBackend;

impl NormOps for CpuBackend {}
