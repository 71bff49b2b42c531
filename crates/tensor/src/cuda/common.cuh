// Helpers shared by every kernel family of the CUDA backend. NVRTC compiles this file
// followed by one family's `.cu` file (see cuda/kernels.rs); nothing is #included, NVRTC
// provides the CUDA built-ins and the device maths library.
//
// Conventions, relied on by the Rust side of every family:
// * sizes and indices are 64-bit (`i64`), element pointers arrive as raw device addresses;
// * every kernel walks its elements with a grid-stride loop, so any grid size is correct
//   and each kernel checks its own bounds;
// * blocks have BLOCK threads (a multiple of 32), the only size the launches use;
// * scalar parameters arrive as `double` and are rounded to the element type inside,
//   exactly as the CPU backend's `T::of_f64` does;
// * every entry point exists as `<name>_f32` and `<name>_f64` (extern "C", unmangled).

typedef long long i64;

#define MAX_RANK 6
#define BLOCK 256

// Bits of the device error flag (one `unsigned int` per device, read at the next host
// synchronisation by `to_host`).
#define ERR_BAD_TARGET 1u
#define ERR_BAD_INDEX 2u

// Shape and element strides of up to two operands read through one row-major index space
// (the output's), padded on the left to MAX_RANK dims of size 1 and stride 0. Built by
// `Strided::new` in cuda/launch.rs, whose `#[repr(C)]` layout matches this one.
struct Strided {
    i64 shape[MAX_RANK];
    i64 s0[MAX_RANK];
    i64 s1[MAX_RANK];
};

__device__ __forceinline__ i64 global_index() {
    return (i64)blockIdx.x * (i64)blockDim.x + (i64)threadIdx.x;
}

__device__ __forceinline__ i64 global_stride() {
    return (i64)gridDim.x * (i64)blockDim.x;
}

// for (i = this thread's first element; i < n; i += all threads of the grid)
#define GRID_LOOP(i, n) for (i64 i = global_index(); i < (n); i += global_stride())

// Offsets in operands 0 and 1 of the element at row-major index `i` of `m.shape`:
// offset_k = sum_d idx_d(i) * m.s_k[d].
__device__ __forceinline__ void strided_offsets(const Strided& m, i64 i, i64* o0, i64* o1) {
    i64 a = 0, b = 0;
#pragma unroll
    for (int d = MAX_RANK - 1; d >= 0; --d) {
        const i64 size = m.shape[d];
        if (size > 1) {
            const i64 idx = i % size;
            i /= size;
            a += idx * m.s0[d];
            b += idx * m.s1[d];
        }
    }
    *o0 = a;
    *o1 = b;
}

// ---- element-type helpers -------------------------------------------------------------

template <typename T> __device__ __forceinline__ bool is_nan(T x) { return x != x; }

template <typename T> __device__ __forceinline__ T nan_of();
template <> __device__ __forceinline__ float nan_of<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double nan_of<double>() {
    return __longlong_as_double(0x7ff8000000000000LL);
}

template <typename T> __device__ __forceinline__ T inf_of();
template <> __device__ __forceinline__ float inf_of<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double inf_of<double>() {
    return __longlong_as_double(0x7ff0000000000000LL);
}

__device__ __forceinline__ float t_exp(float x) { return expf(x); }
__device__ __forceinline__ double t_exp(double x) { return exp(x); }
__device__ __forceinline__ float t_log(float x) { return logf(x); }
__device__ __forceinline__ double t_log(double x) { return log(x); }
__device__ __forceinline__ float t_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double t_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float t_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double t_abs(double x) { return fabs(x); }
__device__ __forceinline__ float t_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double t_pow(double x, double y) { return pow(x, y); }

// max/min in which NaN wins, as the CPU backend: keep `a` when it is NaN or not smaller
// (larger), else `b` (so a NaN `b` wins too, since every comparison with it is false).
template <typename T> __device__ __forceinline__ T max_nan(T a, T b) {
    return (is_nan(a) || a >= b) ? a : b;
}
template <typename T> __device__ __forceinline__ T min_nan(T a, T b) {
    return (is_nan(a) || a <= b) ? a : b;
}

// ---- reductions across a warp and a block -----------------------------------------------

struct SumOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxNanOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        return max_nan(a, b);
    }
};
struct MinNanOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        return min_nan(a, b);
    }
};

// Combines the values of the 32 lanes of a full warp; lane 0 holds the result.
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
    }
    return v;
}

// Combines `v` over the whole block and returns the result to every thread. Every thread of
// the block must call it (it synchronises the block); blockDim.x must be a multiple of 32.
// It synchronises again before returning, so it may be called repeatedly.
template <typename T, typename Op> __device__ T block_reduce(T v, Op op, T identity) {
    __shared__ T partial[32];
    __shared__ T result;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_reduce(v, op);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) >> 5;
        T t = lane < warps ? partial[lane] : identity;
        t = warp_reduce(t, op);
        if (lane == 0) result = t;
    }
    __syncthreads();
    const T r = result;
    __syncthreads();
    return r;
}

__device__ __forceinline__ double block_sum(double v) { return block_reduce(v, SumOp(), 0.0); }

// Whether `t` holds a class id in 0..classes (an integer value in range, not NaN).
template <typename T> __device__ __forceinline__ bool class_id(T t, i64 classes, i64* id) {
    const double v = (double)t;
    if (!(v >= 0.0 && v < (double)classes)) return false;
    const i64 k = (i64)v;
    if ((double)k != v) return false;
    *id = k;
    return true;
}
