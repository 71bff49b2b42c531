// Element-type conversion (MemoryOps::cast). `cast_f32` widens f32 -> f64 (exact);
// `cast_f64` narrows f64 -> f32, rounding to nearest-even like Rust's `as`.

extern "C" __global__ void cast_f32(i64 n, const float* x, double* y) {
    GRID_LOOP(i, n) { y[i] = (double)x[i]; }
}

extern "C" __global__ void cast_f64(i64 n, const double* x, float* y) {
    GRID_LOOP(i, n) { y[i] = __double2float_rn(x[i]); }
}
