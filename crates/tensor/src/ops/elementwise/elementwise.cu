// Elementwise kernels: binary ops with NumPy broadcasting, unary ops.
//
// Op codes match `binary_code` / `unary_code` in ops/elementwise/cuda.rs. Scalar
// parameters (slopes, bounds, exponents) arrive as doubles p0, p1.

#define B_ADD 0
#define B_SUB 1
#define B_MUL 2
#define B_DIV 3
#define B_POW 4
#define B_MAXIMUM 5
#define B_MINIMUM 6
#define B_EQ 7
#define B_NE 8
#define B_LT 9
#define B_LE 10
#define B_GT 11
#define B_GE 12
#define B_RELU_GRAD 13
#define B_LEAKY_RELU_GRAD 14
#define B_CLAMP_GRAD 15

#define U_NEG 0
#define U_EXP 1
#define U_LN 2
#define U_SQRT 3
#define U_RSQRT 4
#define U_RECIP 5
#define U_ABS 6
#define U_SQUARE 7
#define U_RELU 8
#define U_LEAKY_RELU 9
#define U_CLAMP 10
#define U_POWF 11
#define U_AFFINE 12

template <typename T> __device__ __forceinline__ T flag(bool b) { return b ? T(1) : T(0); }

// op(a, b); comparisons give 1 or 0; the *_GRAD ops take the forward input a and the
// upstream gradient b.
template <typename T>
__device__ __forceinline__ T binary_apply(int op, T a, T b, double p0, double p1) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_POW: return t_pow(a, b);
        case B_MAXIMUM: return max_nan(a, b);
        case B_MINIMUM: return min_nan(a, b);
        case B_EQ: return flag<T>(a == b);
        case B_NE: return flag<T>(a != b);
        case B_LT: return flag<T>(a < b);
        case B_LE: return flag<T>(a <= b);
        case B_GT: return flag<T>(a > b);
        case B_GE: return flag<T>(a >= b);
        case B_RELU_GRAD: return a <= T(0) ? T(0) : b;  // NaN passes, as in PyTorch
        case B_LEAKY_RELU_GRAD: return a > T(0) ? b : (T)p0 * b;
        case B_CLAMP_GRAD: {
            const double x = (double)a;
            return (x >= p0 && x <= p1) ? b : T(0);
        }
        default: return nan_of<T>();
    }
}

template <typename T>
__device__ __forceinline__ T unary_apply(int op, T x, double p0, double p1) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return t_exp(x);
        case U_LN: return t_log(x);
        case U_SQRT: return t_sqrt(x);
        case U_RSQRT: return T(1) / t_sqrt(x);
        case U_RECIP: return T(1) / x;
        case U_ABS: return t_abs(x);
        case U_SQUARE: return x * x;
        case U_RELU: return x <= T(0) ? T(0) : x;  // NaN stays NaN
        case U_LEAKY_RELU: return x > T(0) ? x : (T)p0 * x;
        case U_CLAMP: {
            const T lo = (T)p0;
            const T hi = (T)p1;
            return x < lo ? lo : (x > hi ? hi : x);
        }
        case U_POWF: return t_pow(x, (T)p0);
        case U_AFFINE: return x * (T)p0 + (T)p1;
        default: return nan_of<T>();
    }
}

// out[i] = op(a[i], b[i]) for equal shapes.
template <typename T>
__device__ void binary_same(i64 n, int op, double p0, double p1, const T* a, const T* b, T* out) {
    GRID_LOOP(i, n) { out[i] = binary_apply(op, a[i], b[i], p0, p1); }
}

// out[i] = op(a[off_a(i)], b[off_b(i)]): a and b read through broadcast strides m.s0, m.s1
// (na, nb elements; out-of-range offsets, impossible for valid metadata, give NaN).
template <typename T>
__device__ void binary_bcast(i64 n, Strided m, int op, double p0, double p1, const T* a, i64 na,
                             const T* b, i64 nb, T* out) {
    GRID_LOOP(i, n) {
        i64 oa, ob;
        strided_offsets(m, i, &oa, &ob);
        out[i] = (oa < na && ob < nb) ? binary_apply(op, a[oa], b[ob], p0, p1) : nan_of<T>();
    }
}

// out[i] = op(x[i]).
template <typename T>
__device__ void unary(i64 n, int op, double p0, double p1, const T* x, T* out) {
    GRID_LOOP(i, n) { out[i] = unary_apply(op, x[i], p0, p1); }
}

extern "C" __global__ void binary_same_f32(i64 n, int op, double p0, double p1, const float* a,
                                           const float* b, float* out) {
    binary_same<float>(n, op, p0, p1, a, b, out);
}
extern "C" __global__ void binary_same_f64(i64 n, int op, double p0, double p1, const double* a,
                                           const double* b, double* out) {
    binary_same<double>(n, op, p0, p1, a, b, out);
}

extern "C" __global__ void binary_bcast_f32(i64 n, Strided m, int op, double p0, double p1,
                                            const float* a, i64 na, const float* b, i64 nb,
                                            float* out) {
    binary_bcast<float>(n, m, op, p0, p1, a, na, b, nb, out);
}
extern "C" __global__ void binary_bcast_f64(i64 n, Strided m, int op, double p0, double p1,
                                            const double* a, i64 na, const double* b, i64 nb,
                                            double* out) {
    binary_bcast<double>(n, m, op, p0, p1, a, na, b, nb, out);
}

extern "C" __global__ void unary_f32(i64 n, int op, double p0, double p1, const float* x,
                                     float* out) {
    unary<float>(n, op, p0, p1, x, out);
}
extern "C" __global__ void unary_f64(i64 n, int op, double p0, double p1, const double* x,
                                     double* out) {
    unary<double>(n, op, p0, p1, x, out);
}
