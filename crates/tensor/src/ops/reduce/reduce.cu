// Reductions over the middle axis of x viewed as [outer, red, inner], and argmax.
//
// Sums, means and variances accumulate in double whatever the element type (as the CPU
// backend does); variances take two passes (mean, then squared deviations). Max and min
// propagate NaN. Op codes match `reduce_code` in ops/reduce/cuda.rs.

#define R_SUM 0
#define R_MEAN 1
#define R_MAX 2
#define R_MIN 3
#define R_VAR_BIASED 4
#define R_VAR_UNBIASED 5

// The value of a sum-family op given the sum s and the sum of squared deviations ss of
// n elements (ss only read for variances).
__device__ __forceinline__ double finish_moment(int op, double s, double ss, i64 n) {
    if (op == R_SUM) return s;
    if (op == R_MEAN) return s / (double)n;
    const double denom = op == R_VAR_UNBIASED ? (double)n - 1.0 : (double)n;
    return ss / denom;
}

// inner == 1: out[row] = op(x[row, 0..red]). One block per row (grid-stride over rows),
// the block's threads striding over the row.
template <typename T>
__device__ void reduce_rows(i64 rows, i64 red, int op, const T* x, T* out) {
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* p = x + row * red;
        T result;
        if (op == R_MAX || op == R_MIN) {
            const bool is_max = op == R_MAX;
            const T identity = is_max ? -inf_of<T>() : inf_of<T>();
            T acc = identity;
            for (i64 r = threadIdx.x; r < red; r += blockDim.x) {
                acc = is_max ? max_nan(acc, p[r]) : min_nan(acc, p[r]);
            }
            result = is_max ? block_reduce(acc, MaxNanOp(), identity)
                            : block_reduce(acc, MinNanOp(), identity);
        } else {
            double s = 0.0;
            for (i64 r = threadIdx.x; r < red; r += blockDim.x) s += (double)p[r];
            s = block_sum(s);
            double ss = 0.0;
            if (op == R_VAR_BIASED || op == R_VAR_UNBIASED) {
                const double mean = s / (double)red;
                for (i64 r = threadIdx.x; r < red; r += blockDim.x) {
                    const double d = (double)p[r] - mean;
                    ss += d * d;
                }
                ss = block_sum(ss);
            }
            result = (T)finish_moment(op, s, ss, red);
        }
        if (threadIdx.x == 0) out[row] = result;
    }
}

// inner > 1: out[o * inner + i] = op(x[o, 0..red, i]). One thread per output; neighbouring
// threads read neighbouring addresses.
template <typename T>
__device__ void reduce_cols(i64 outer, i64 red, i64 inner, int op, const T* x, T* out) {
    GRID_LOOP(j, outer * inner) {
        const i64 o = j / inner;
        const i64 i = j - o * inner;
        const T* p = x + o * red * inner + i;
        if (op == R_MAX || op == R_MIN) {
            const bool is_max = op == R_MAX;
            T acc = is_max ? -inf_of<T>() : inf_of<T>();
            for (i64 r = 0; r < red; ++r) {
                acc = is_max ? max_nan(acc, p[r * inner]) : min_nan(acc, p[r * inner]);
            }
            out[j] = acc;
        } else {
            double s = 0.0;
            for (i64 r = 0; r < red; ++r) s += (double)p[r * inner];
            double ss = 0.0;
            if (op == R_VAR_BIASED || op == R_VAR_UNBIASED) {
                const double mean = s / (double)red;
                for (i64 r = 0; r < red; ++r) {
                    const double d = (double)p[r * inner] - mean;
                    ss += d * d;
                }
            }
            out[j] = (T)finish_moment(op, s, ss, red);
        }
    }
}

// out[o * inner + i] = the first r maximising x[o, r, i] (a NaN counts as the maximum),
// as a float. red >= 1 (the host refuses empty axes).
template <typename T>
__device__ void argmax(i64 outer, i64 red, i64 inner, const T* x, T* out) {
    GRID_LOOP(j, outer * inner) {
        const i64 o = j / inner;
        const i64 i = j - o * inner;
        const T* p = x + o * red * inner + i;
        if (red <= 0) {
            out[j] = nan_of<T>();
            continue;
        }
        i64 best = 0;
        T best_v = p[0];
        for (i64 r = 1; r < red; ++r) {
            const T v = p[r * inner];
            if (!is_nan(best_v) && (is_nan(v) || v > best_v)) {
                best = r;
                best_v = v;
            }
        }
        out[j] = (T)best;
    }
}

extern "C" __global__ void reduce_rows_f32(i64 rows, i64 red, int op, const float* x, float* out) {
    reduce_rows<float>(rows, red, op, x, out);
}
extern "C" __global__ void reduce_rows_f64(i64 rows, i64 red, int op, const double* x, double* out) {
    reduce_rows<double>(rows, red, op, x, out);
}
extern "C" __global__ void reduce_cols_f32(i64 outer, i64 red, i64 inner, int op, const float* x,
                                           float* out) {
    reduce_cols<float>(outer, red, inner, op, x, out);
}
extern "C" __global__ void reduce_cols_f64(i64 outer, i64 red, i64 inner, int op, const double* x,
                                           double* out) {
    reduce_cols<double>(outer, red, inner, op, x, out);
}
extern "C" __global__ void argmax_f32(i64 outer, i64 red, i64 inner, const float* x, float* out) {
    argmax<float>(outer, red, inner, x, out);
}
extern "C" __global__ void argmax_f64(i64 outer, i64 red, i64 inner, const double* x, double* out) {
    argmax<double>(outer, red, inner, x, out);
}
