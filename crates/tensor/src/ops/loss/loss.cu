// Row-wise log-softmax (+ backward) and the fused cross-entropy (+ backward) over logits
// z [rows, c]. One block per row; row maxima and sums are block reductions, sums in double.
//
// Class ids are validated on the device: a target that is not an integer in 0..c sets
// ERR_BAD_TARGET in the device error flag (reported by the next `to_host`) and makes that
// row's loss, or gradient row, NaN.

struct FmaxOp {
    // Like the CPU's `f32::max`: a NaN operand is ignored.
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        return is_nan(a) ? b : (is_nan(b) ? a : (a > b ? a : b));
    }
};

template <typename T> __device__ __forceinline__ T row_max(const T* p, i64 c) {
    T m = -inf_of<T>();
    for (i64 r = threadIdx.x; r < c; r += blockDim.x) m = FmaxOp()(m, p[r]);
    return block_reduce(m, FmaxOp(), -inf_of<T>());
}

// y[row, :] = z[row, :] - logsumexp(z[row, :]).
template <typename T>
__device__ void log_softmax(i64 rows, i64 c, const T* z, T* y) {
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* p = z + row * c;
        T* q = y + row * c;
        const T m = row_max(p, c);
        double s = 0.0;
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) s += (double)t_exp(p[r] - m);
        s = block_sum(s);
        const double lse = (double)m + log(s);
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) q[r] = (T)((double)p[r] - lse);
    }
}

// dx = dy - exp(y) * sum(dy) per row, y being log_softmax's output.
template <typename T>
__device__ void log_softmax_backward(i64 rows, i64 c, const T* y, const T* dy, T* dx) {
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* py = y + row * c;
        const T* pg = dy + row * c;
        T* q = dx + row * c;
        double s = 0.0;
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) s += (double)pg[r];
        const T st = (T)block_sum(s);
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) q[r] = pg[r] - t_exp(py[r]) * st;
    }
}

// loss[row] = logsumexp(z[row, :]) - z[row, t[row]] in double (NaN for a bad target).
template <typename T>
__device__ void cross_entropy_rows(i64 rows, i64 c, const T* z, const T* targets, double* loss,
                                   unsigned int* flags) {
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* p = z + row * c;
        const double m = (double)row_max(p, c);
        double s = 0.0;
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) s += exp((double)p[r] - m);
        s = block_sum(s);
        if (threadIdx.x == 0) {
            i64 t = 0;
            if (class_id(targets[row], c, &t)) {
                loss[row] = m + log(s) - (double)p[t];
            } else {
                loss[row] = nan_of<double>();
                atomicOr(flags, ERR_BAD_TARGET);
            }
        }
    }
}

// out[0] = mean of loss[0..rows] (a single block).
template <typename T>
__device__ void cross_entropy_mean(i64 rows, const double* loss, T* out) {
    double s = 0.0;
    for (i64 r = threadIdx.x; r < rows; r += blockDim.x) s += loss[r];
    s = block_sum(s);
    if (threadIdx.x == 0 && blockIdx.x == 0) out[0] = (T)(s / (double)rows);
}

// dz[row, :] = (softmax(z[row, :]) - onehot(t[row])) * dloss[0] / rows.
template <typename T>
__device__ void cross_entropy_backward(i64 rows, i64 c, const T* z, const T* targets,
                                       const T* dloss, T* dz, unsigned int* flags) {
    const T scale = dloss[0] / (T)rows;
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* p = z + row * c;
        T* q = dz + row * c;
        const T m = row_max(p, c);
        double s = 0.0;
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) s += (double)t_exp(p[r] - m);
        const T sum = (T)block_sum(s);
        i64 t = 0;
        const bool ok = class_id(targets[row], c, &t);
        for (i64 r = threadIdx.x; r < c; r += blockDim.x) {
            if (ok) {
                const T d = t_exp(p[r] - m) / sum * scale;
                q[r] = r == t ? d - scale : d;
            } else {
                q[r] = nan_of<T>();
            }
        }
        if (!ok && threadIdx.x == 0) atomicOr(flags, ERR_BAD_TARGET);
    }
}

extern "C" __global__ void log_softmax_f32(i64 rows, i64 c, const float* z, float* y) {
    log_softmax<float>(rows, c, z, y);
}
extern "C" __global__ void log_softmax_f64(i64 rows, i64 c, const double* z, double* y) {
    log_softmax<double>(rows, c, z, y);
}
extern "C" __global__ void log_softmax_backward_f32(i64 rows, i64 c, const float* y,
                                                    const float* dy, float* dx) {
    log_softmax_backward<float>(rows, c, y, dy, dx);
}
extern "C" __global__ void log_softmax_backward_f64(i64 rows, i64 c, const double* y,
                                                    const double* dy, double* dx) {
    log_softmax_backward<double>(rows, c, y, dy, dx);
}
extern "C" __global__ void cross_entropy_rows_f32(i64 rows, i64 c, const float* z,
                                                  const float* targets, double* loss,
                                                  unsigned int* flags) {
    cross_entropy_rows<float>(rows, c, z, targets, loss, flags);
}
extern "C" __global__ void cross_entropy_rows_f64(i64 rows, i64 c, const double* z,
                                                  const double* targets, double* loss,
                                                  unsigned int* flags) {
    cross_entropy_rows<double>(rows, c, z, targets, loss, flags);
}
extern "C" __global__ void cross_entropy_mean_f32(i64 rows, const double* loss, float* out) {
    cross_entropy_mean<float>(rows, loss, out);
}
extern "C" __global__ void cross_entropy_mean_f64(i64 rows, const double* loss, double* out) {
    cross_entropy_mean<double>(rows, loss, out);
}
extern "C" __global__ void cross_entropy_backward_f32(i64 rows, i64 c, const float* z,
                                                      const float* targets, const float* dloss,
                                                      float* dz, unsigned int* flags) {
    cross_entropy_backward<float>(rows, c, z, targets, dloss, dz, flags);
}
extern "C" __global__ void cross_entropy_backward_f64(i64 rows, i64 c, const double* z,
                                                      const double* targets,
                                                      const double* dloss, double* dz,
                                                      unsigned int* flags) {
    cross_entropy_backward<double>(rows, c, z, targets, dloss, dz, flags);
}
