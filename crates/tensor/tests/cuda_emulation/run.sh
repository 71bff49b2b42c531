#!/usr/bin/env bash
# Runs the CUDA kernels' logic on the CPU: every kernel source (common.cuh + each family's
# .cu) is compiled as C++ against emu.h, which emulates threads, blocks, __syncthreads and
# warp shuffles with one OS thread per CUDA thread, and test.cpp compares the results with
# direct references. Needs only g++ (C++20); no GPU, no CUDA. A developer check, not part
# of `cargo test`:   bash crates/tensor/tests/cuda_emulation/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "#include \"$here/emu.h\""
  echo "#include \"$src/cuda/common.cuh\""
  for f in "$src"/cuda/memory.cu "$src"/ops/*/*.cu; do echo "#include \"$f\""; done
} > "$work/all_kernels.h"
g++ -std=c++20 -O1 -pthread -Wno-unknown-pragmas -I"$work" "$here/test.cpp" -o "$work/emulated"
"$work/emulated"
