// In-place updates: y = a x + b y (a zero coefficient drops its term, so a NaN or an
// infinity in the dropped operand does not leak through 0 * x), y *= f, y = v. The
// coefficients are rounded to the element type first, as on the CPU.

template <typename T>
__device__ void axpby(i64 n, double a, double b, const T* x, T* y) {
    const T ta = (T)a;
    const T tb = (T)b;
    if (tb == T(0)) {
        GRID_LOOP(i, n) { y[i] = ta * x[i]; }
    } else if (ta == T(0)) {
        GRID_LOOP(i, n) { y[i] = tb * y[i]; }
    } else {
        GRID_LOOP(i, n) { y[i] = ta * x[i] + tb * y[i]; }
    }
}

template <typename T>
__device__ void scale(i64 n, double f, T* y) {
    const T tf = (T)f;
    GRID_LOOP(i, n) { y[i] = y[i] * tf; }
}

template <typename T>
__device__ void fill(i64 n, double v, T* y) {
    const T tv = (T)v;
    GRID_LOOP(i, n) { y[i] = tv; }
}

extern "C" __global__ void axpby_f32(i64 n, double a, double b, const float* x, float* y) {
    axpby<float>(n, a, b, x, y);
}
extern "C" __global__ void axpby_f64(i64 n, double a, double b, const double* x, double* y) {
    axpby<double>(n, a, b, x, y);
}
extern "C" __global__ void scale_f32(i64 n, double f, float* y) { scale<float>(n, f, y); }
extern "C" __global__ void scale_f64(i64 n, double f, double* y) { scale<double>(n, f, y); }
extern "C" __global__ void fill_f32(i64 n, double v, float* y) { fill<float>(n, v, y); }
extern "C" __global__ void fill_f64(i64 n, double v, double* y) { fill<double>(n, v, y); }
