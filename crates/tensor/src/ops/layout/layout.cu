// Moving elements: strided gathers (permute, broadcast materialisation), row gathers by
// index and their adjoint, a deterministic scatter-add of rows.

// out[i] = x[offset(i)], x read through the strides m.s0 (nx elements).
template <typename T>
__device__ void gather_strided(i64 n, Strided m, const T* x, i64 nx, T* out) {
    GRID_LOOP(i, n) {
        i64 o, unused;
        strided_offsets(m, i, &o, &unused);
        out[i] = o < nx ? x[o] : nan_of<T>();
    }
}

// out[r, j] = x[idx[r], j] for rows of row_len elements (x has in_rows rows).
template <typename T>
__device__ void gather_rows(i64 out_rows, i64 row_len, const i64* idx, i64 in_rows, const T* x,
                            T* out) {
    GRID_LOOP(i, out_rows * row_len) {
        const i64 r = i / row_len;
        const i64 j = i - r * row_len;
        const i64 src = idx[r];
        out[i] = (src >= 0 && src < in_rows) ? x[src * row_len + j] : nan_of<T>();
    }
}

// For each target row u (targets in total): out[target_rows[u], j] =
// sum over k in offsets[u]..offsets[u+1] of src[sources[k], j], summed in k order (the
// host sorts sources by target, stably), so results equal the CPU's sequential sums.
// Rows of out that are no target keep their zeros.
template <typename T>
__device__ void scatter_add_rows(i64 targets, i64 row_len, const i64* target_rows,
                                 const i64* offsets, const i64* sources, i64 src_rows,
                                 i64 out_rows, const T* src, T* out) {
    GRID_LOOP(i, targets * row_len) {
        const i64 u = i / row_len;
        const i64 j = i - u * row_len;
        const i64 t = target_rows[u];
        if (t < 0 || t >= out_rows) continue;
        T acc = T(0);
        for (i64 k = offsets[u]; k < offsets[u + 1]; ++k) {
            const i64 s = sources[k];
            if (s >= 0 && s < src_rows) acc = acc + src[s * row_len + j];
        }
        out[t * row_len + j] = acc;
    }
}

extern "C" __global__ void gather_strided_f32(i64 n, Strided m, const float* x, i64 nx, float* out) {
    gather_strided<float>(n, m, x, nx, out);
}
extern "C" __global__ void gather_strided_f64(i64 n, Strided m, const double* x, i64 nx,
                                              double* out) {
    gather_strided<double>(n, m, x, nx, out);
}
extern "C" __global__ void gather_rows_f32(i64 out_rows, i64 row_len, const i64* idx, i64 in_rows,
                                           const float* x, float* out) {
    gather_rows<float>(out_rows, row_len, idx, in_rows, x, out);
}
extern "C" __global__ void gather_rows_f64(i64 out_rows, i64 row_len, const i64* idx, i64 in_rows,
                                           const double* x, double* out) {
    gather_rows<double>(out_rows, row_len, idx, in_rows, x, out);
}
extern "C" __global__ void scatter_add_rows_f32(i64 targets, i64 row_len, const i64* target_rows,
                                                const i64* offsets, const i64* sources,
                                                i64 src_rows, i64 out_rows, const float* src,
                                                float* out) {
    scatter_add_rows<float>(targets, row_len, target_rows, offsets, sources, src_rows, out_rows,
                            src, out);
}
extern "C" __global__ void scatter_add_rows_f64(i64 targets, i64 row_len, const i64* target_rows,
                                                const i64* offsets, const i64* sources,
                                                i64 src_rows, i64 out_rows, const double* src,
                                                double* out) {
    scatter_add_rows<double>(targets, row_len, target_rows, offsets, sources, src_rows, out_rows,
                             src, out);
}
