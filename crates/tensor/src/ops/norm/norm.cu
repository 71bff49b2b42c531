// Fused normalisation kernels (see ops/norm/mod.rs for the maths).
//
// The input is read as rows = N*C rows of S elements. Statistic group k holds m elements:
// per channel (k = c) the rows n*C + c for n in 0..N; per group (k = n*G + j) the cpg =
// C/G consecutive rows from k*cpg. Sums are in double. Statistics are split across
// `splits` blocks per group (so a handful of channels still fills the GPU) and finished
// by one thread per group summing the partials in order: deterministic, no atomics.

struct NormGeom {
    i64 batch, channels, spatial, per_group, cpg, stats, m, affine, unused;
};

// The row of element e (0 <= e < m) of group k, and that element's index in x.
__device__ __forceinline__ i64 group_row(const NormGeom& g, i64 k, i64 i) {
    return g.per_group ? k * g.cpg + i : i * g.channels + k;
}
__device__ __forceinline__ i64 group_elem(const NormGeom& g, i64 k, i64 e) {
    const i64 i = e / g.spatial;
    const i64 s = e - i * g.spatial;
    return group_row(g, k, i) * g.spatial + s;
}
__device__ __forceinline__ i64 rows_per_group(const NormGeom& g) {
    return g.per_group ? g.cpg : g.batch;
}
__device__ __forceinline__ i64 stat_of_row(const NormGeom& g, i64 r) {
    return g.per_group ? r / g.cpg : r % g.channels;
}
__device__ __forceinline__ i64 affine_of_row(const NormGeom& g, i64 r) {
    return g.affine == 1 ? 0 : r % g.channels;
}

// Block b = k*splits + j covers elements [j*chunk, (j+1)*chunk) of group k.
__device__ __forceinline__ void chunk_of(const NormGeom& g, i64 splits, i64 b, i64* k, i64* lo,
                                         i64* hi) {
    *k = b / splits;
    const i64 j = b - *k * splits;
    const i64 chunk = (g.m + splits - 1) / splits;
    *lo = j * chunk;
    *hi = min(*lo + chunk, g.m);
}

// ps[b] = sum of x over chunk b; with `squares`, also pq[b] = sum of x^2.
template <typename T>
__device__ void norm_partial_sums(NormGeom g, i64 splits, int squares, const T* x, double* ps,
                                  double* pq) {
    for (i64 b = blockIdx.x; b < g.stats * splits; b += gridDim.x) {
        i64 k, lo, hi;
        chunk_of(g, splits, b, &k, &lo, &hi);
        double s = 0.0, q = 0.0;
        for (i64 e = lo + threadIdx.x; e < hi; e += blockDim.x) {
            const double v = (double)x[group_elem(g, k, e)];
            s += v;
            q += v * v;
        }
        s = block_sum(s);
        if (squares) q = block_sum(q);
        if (threadIdx.x == 0) {
            ps[b] = s;
            if (squares) pq[b] = q;
        }
    }
}

// pq[b] = sum over chunk b of (x - mean_k)^2, mean_k = (sum_j ps[k*splits + j]) / m.
template <typename T>
__device__ void norm_partial_sq(NormGeom g, i64 splits, const T* x, const double* ps, double* pq) {
    for (i64 b = blockIdx.x; b < g.stats * splits; b += gridDim.x) {
        i64 k, lo, hi;
        chunk_of(g, splits, b, &k, &lo, &hi);
        double total = 0.0;
        for (i64 j = 0; j < splits; ++j) total += ps[k * splits + j];
        const double mean = total / (double)g.m;
        double q = 0.0;
        for (i64 e = lo + threadIdx.x; e < hi; e += blockDim.x) {
            const double d = (double)x[group_elem(g, k, e)] - mean;
            q += d * d;
        }
        q = block_sum(q);
        if (threadIdx.x == 0) pq[b] = q;
    }
}

// mean_k, var_k = sum (x - mean)^2 / divisor, invstd_k = 1 / sqrt(var_k + eps).
template <typename T>
__device__ void norm_finish_stats(NormGeom g, i64 splits, const double* ps, const double* pq,
                                  double divisor, double eps, T* mean, T* var, T* invstd) {
    GRID_LOOP(k, g.stats) {
        double s = 0.0, q = 0.0;
        for (i64 j = 0; j < splits; ++j) {
            s += ps[k * splits + j];
            q += pq[k * splits + j];
        }
        const double v = q / divisor;
        mean[k] = (T)(s / (double)g.m);
        var[k] = (T)v;
        invstd[k] = (T)(1.0 / sqrt(v + eps));
    }
}

// sum_k = sum x, sumsq_k = sum x^2 over group k.
template <typename T>
__device__ void norm_finish_sums(NormGeom g, i64 splits, const double* ps, const double* pq,
                                 T* sum, T* sumsq) {
    GRID_LOOP(k, g.stats) {
        double s = 0.0, q = 0.0;
        for (i64 j = 0; j < splits; ++j) {
            s += ps[k * splits + j];
            q += pq[k * splits + j];
        }
        sum[k] = (T)s;
        sumsq[k] = (T)q;
    }
}

// y = (x - mean_k) * invstd_k * scale_c + shift_c.
template <typename T>
__device__ void norm_apply(NormGeom g, const T* x, const T* mean, const T* invstd, const T* scale,
                           const T* shift, T* y) {
    GRID_LOOP(i, g.batch * g.channels * g.spatial) {
        const i64 r = i / g.spatial;
        const i64 k = stat_of_row(g, r);
        const i64 c = affine_of_row(g, r);
        y[i] = (x[i] - mean[k]) * invstd[k] * scale[c] + shift[c];
    }
}

// Per row r: a[r] = sum dy, b[r] = sum dy (x - mean_k) invstd_k (double). One block per
// row, for long rows.
template <typename T>
__device__ void norm_row_sums_block(NormGeom g, const T* x, const T* dy, const T* mean,
                                    const T* invstd, double* a, double* b) {
    const i64 rows = g.batch * g.channels;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const i64 k = stat_of_row(g, r);
        const double mu = (double)mean[k];
        const double inv = (double)invstd[k];
        double sa = 0.0, sb = 0.0;
        for (i64 s = threadIdx.x; s < g.spatial; s += blockDim.x) {
            const i64 i = r * g.spatial + s;
            const double d = (double)dy[i];
            sa += d;
            sb += d * ((double)x[i] - mu) * inv;
        }
        sa = block_sum(sa);
        sb = block_sum(sb);
        if (threadIdx.x == 0) {
            a[r] = sa;
            b[r] = sb;
        }
    }
}

// The same with one thread per row, for short rows.
template <typename T>
__device__ void norm_row_sums_thread(NormGeom g, const T* x, const T* dy, const T* mean,
                                     const T* invstd, double* a, double* b) {
    GRID_LOOP(r, g.batch * g.channels) {
        const i64 k = stat_of_row(g, r);
        const double mu = (double)mean[k];
        const double inv = (double)invstd[k];
        double sa = 0.0, sb = 0.0;
        for (i64 s = 0; s < g.spatial; ++s) {
            const i64 i = r * g.spatial + s;
            const double d = (double)dy[i];
            sa += d;
            sb += d * ((double)x[i] - mu) * inv;
        }
        a[r] = sa;
        b[r] = sb;
    }
}

// dshift_c = sum of a over the rows of affine index c, dscale_c = the same of b.
template <typename T>
__device__ void norm_affine_grads(NormGeom g, const double* a, const double* b, T* dscale,
                                  T* dshift) {
    GRID_LOOP(c, g.affine) {
        double ss = 0.0, sh = 0.0;
        if (g.affine == 1) {
            for (i64 r = 0; r < g.batch * g.channels; ++r) {
                sh += a[r];
                ss += b[r];
            }
        } else {
            for (i64 n = 0; n < g.batch; ++n) {
                const i64 r = n * g.channels + c;
                sh += a[r];
                ss += b[r];
            }
        }
        dscale[c] = (T)ss;
        dshift[c] = (T)sh;
    }
}

// Per group: Sg = sum gamma a, Sgx = sum gamma b over its rows, then the coefficients
// (A, B) of dx = dy gamma r + A + B xhat for the gradient mode:
// 0 detached: A = B = 0; 1 batch: A = -r Sg / m, B = -r Sgx / divisor;
// 2 running: A = -share r Sg, B = -share r Sgx (0 where live[k] == 0, when has_live).
template <typename T>
__device__ void norm_coefficients(NormGeom g, int mode, double divisor, double share,
                                  const T* invstd, const T* scale, int has_live, const T* live,
                                  const double* a, const double* b, T* ca, T* cb) {
    GRID_LOOP(k, g.stats) {
        double sg = 0.0, sgx = 0.0;
        const i64 count = rows_per_group(g);
        for (i64 i = 0; i < count; ++i) {
            const i64 r = group_row(g, k, i);
            const double gamma = (double)scale[affine_of_row(g, r)];
            sg += gamma * a[r];
            sgx += gamma * b[r];
        }
        const double rk = (double)invstd[k];
        double ak = 0.0, bk = 0.0;
        if (mode == 1) {
            ak = -rk * sg / (double)g.m;
            bk = -rk * sgx / divisor;
        } else if (mode == 2) {
            ak = -share * rk * sg;
            const bool flows = !has_live || (double)live[k] != 0.0;
            bk = flows ? -share * rk * sgx : 0.0;
        }
        ca[k] = (T)ak;
        cb[k] = (T)bk;
    }
}

// dx = dy gamma_c r_k (+ A_k + B_k (x - mean_k) r_k unless detached).
template <typename T>
__device__ void norm_dx(NormGeom g, int detached, const T* x, const T* dy, const T* mean,
                        const T* invstd, const T* scale, const T* ca, const T* cb, T* dx) {
    GRID_LOOP(i, g.batch * g.channels * g.spatial) {
        const i64 r = i / g.spatial;
        const i64 k = stat_of_row(g, r);
        const T inv = invstd[k];
        const T gr = scale[affine_of_row(g, r)] * inv;
        if (detached) {
            dx[i] = dy[i] * gr;
        } else {
            dx[i] = dy[i] * gr + ca[k] + cb[k] * ((x[i] - mean[k]) * inv);
        }
    }
}

#define NORM_ENTRIES(T, SUF)                                                                    \
    extern "C" __global__ void norm_partial_sums_##SUF(NormGeom g, i64 splits, int squares,    \
                                                       const T* x, double* ps, double* pq) {   \
        norm_partial_sums<T>(g, splits, squares, x, ps, pq);                                    \
    }                                                                                           \
    extern "C" __global__ void norm_partial_sq_##SUF(NormGeom g, i64 splits, const T* x,       \
                                                     const double* ps, double* pq) {           \
        norm_partial_sq<T>(g, splits, x, ps, pq);                                               \
    }                                                                                           \
    extern "C" __global__ void norm_finish_stats_##SUF(NormGeom g, i64 splits, const double* ps, \
                                                       const double* pq, double divisor,        \
                                                       double eps, T* mean, T* var,             \
                                                       T* invstd) {                             \
        norm_finish_stats<T>(g, splits, ps, pq, divisor, eps, mean, var, invstd);               \
    }                                                                                           \
    extern "C" __global__ void norm_finish_sums_##SUF(NormGeom g, i64 splits, const double* ps, \
                                                      const double* pq, T* sum, T* sumsq) {     \
        norm_finish_sums<T>(g, splits, ps, pq, sum, sumsq);                                     \
    }                                                                                           \
    extern "C" __global__ void norm_apply_##SUF(NormGeom g, const T* x, const T* mean,          \
                                                const T* invstd, const T* scale,                \
                                                const T* shift, T* y) {                         \
        norm_apply<T>(g, x, mean, invstd, scale, shift, y);                                     \
    }                                                                                           \
    extern "C" __global__ void norm_row_sums_block_##SUF(NormGeom g, const T* x, const T* dy,   \
                                                         const T* mean, const T* invstd,        \
                                                         double* a, double* b) {                \
        norm_row_sums_block<T>(g, x, dy, mean, invstd, a, b);                                   \
    }                                                                                           \
    extern "C" __global__ void norm_row_sums_thread_##SUF(NormGeom g, const T* x, const T* dy,  \
                                                          const T* mean, const T* invstd,       \
                                                          double* a, double* b) {               \
        norm_row_sums_thread<T>(g, x, dy, mean, invstd, a, b);                                  \
    }                                                                                           \
    extern "C" __global__ void norm_affine_grads_##SUF(NormGeom g, const double* a,             \
                                                       const double* b, T* dscale, T* dshift) { \
        norm_affine_grads<T>(g, a, b, dscale, dshift);                                          \
    }                                                                                           \
    extern "C" __global__ void norm_coefficients_##SUF(                                         \
        NormGeom g, int mode, double divisor, double share, const T* invstd, const T* scale,    \
        int has_live, const T* live, const double* a, const double* b, T* ca, T* cb) {          \
        norm_coefficients<T>(g, mode, divisor, share, invstd, scale, has_live, live, a, b, ca,  \
                             cb);                                                               \
    }                                                                                           \
    extern "C" __global__ void norm_dx_##SUF(NormGeom g, int detached, const T* x, const T* dy, \
                                             const T* mean, const T* invstd, const T* scale,    \
                                             const T* ca, const T* cb, T* dx) {                 \
        norm_dx<T>(g, detached, x, dy, mean, invstd, scale, ca, cb, dx);                        \
    }

NORM_ENTRIES(float, f32)
NORM_ENTRIES(double, f64)
