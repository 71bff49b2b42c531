#!/usr/bin/env bash
# MPI tests: installs Open MPI (and libclang for the MPI bindings' bindgen) from the
# distribution's packages when missing, then runs, with the `mpi` feature, the tests that start
# jobs of 2 and 4 ranks under mpirun: the collective crate's, SyncBatchNorm against BatchNorm2d
# (norms), data-parallel training against one process (learner) and `xtask train --ranks`
# with a rank killed mid-epoch and resumed (xtask). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
command -v mpicc >/dev/null 2>&1 || need+=(libopenmpi-dev)
# bindgen loads libclang at build time (libclang.so or libclang-N.so; libclang-cpp, which
# LLVM's own packages bring, is not it).
compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null ||
    compgen -G '/usr/lib/llvm-*/lib/libclang-[0-9]*.so*' >/dev/null ||
    need+=(libclang-dev)
if [ "${#need[@]}" -gt 0 ]; then
    echo "== installing ${need[*]}"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# Open MPI refuses to start ranks as root unless both variables are set (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

mpirun --version | head -n 1
for crate in collective norms learner xtask; do
    echo "== $crate over MPI"
    start=$(date +%s)
    cargo test -p "$crate" --features mpi
    echo "== $crate over MPI: $(($(date +%s) - start)) s"
done
