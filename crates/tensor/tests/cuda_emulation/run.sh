#!/usr/bin/env bash
# Runs the CUDA kernels' logic on the CPU (see ../cuda_emulation.rs, which builds test.cpp
# against emu.h and every .cu file, runs it and checks that every entry point was
# launched). It is part of `cargo test -p tensor`; this runs just it, with its report.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
exec cargo test -p tensor --test cuda_emulation -- --nocapture "$@"
