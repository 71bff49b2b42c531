// Convolution helpers: the bias passes (used with cuDNN and without), and the im2col /
// col2im pair of the fallback path (im2col + cuBLAS GEMM) used when cuDNN is absent or
// has no algorithm for a case.
//
// Geometry (NCHW input x[n, ci, ih, iw], OIHW weight, square stride s and padding pad):
// oh in 0..h_out, ow in 0..w_out read x[n, ci, oh*s + i - pad, ow*s + j - pad] for the tap
// (i, j) in 0..kh x 0..kw; reads outside the input are zero.
//
// The column matrix of a chunk of nb samples has K = c_in*kh*kw rows and nb*P columns,
// P = h_out*w_out ("KNP" layout): cols[k, n*P + p], k = (ci*kh + i)*kw + j,
// p = oh*w_out + ow, n the sample within the chunk.

struct ConvGeom {
    i64 c_in, h_in, w_in, k_h, k_w, stride, pad, h_out, w_out;
};

// cols[k, n*P + p] = x[n, ci, oh*s + i - pad, ow*s + j - pad] (0 outside), for nb samples.
template <typename T>
__device__ void im2col(ConvGeom g, i64 nb, const T* x, T* cols) {
    const i64 P = g.h_out * g.w_out;
    const i64 NP = nb * P;
    const i64 K = g.c_in * g.k_h * g.k_w;
    GRID_LOOP(e, K * NP) {
        const i64 k = e / NP;
        const i64 col = e - k * NP;
        const i64 n = col / P;
        const i64 p = col - n * P;
        const i64 oh = p / g.w_out;
        const i64 ow = p - oh * g.w_out;
        const i64 ci = k / (g.k_h * g.k_w);
        const i64 tap = k - ci * (g.k_h * g.k_w);
        const i64 i = tap / g.k_w;
        const i64 j = tap - i * g.k_w;
        const i64 ih = oh * g.stride + i - g.pad;
        const i64 iw = ow * g.stride + j - g.pad;
        T v = T(0);
        if (ih >= 0 && ih < g.h_in && iw >= 0 && iw < g.w_in) {
            v = x[((n * g.c_in + ci) * g.h_in + ih) * g.w_in + iw];
        }
        cols[e] = v;
    }
}

// dx[n, ci, ih, iw] = sum over taps (i, j) and outputs (oh, ow) that read that input pixel
// of dcols[(ci, i, j), n*P + oh*w_out + ow]: the adjoint of im2col, as a gather (one
// thread per input pixel, no atomics), for nb samples.
template <typename T>
__device__ void col2im(ConvGeom g, i64 nb, const T* dcols, T* dx) {
    const i64 P = g.h_out * g.w_out;
    const i64 NP = nb * P;
    const i64 pixels = g.h_in * g.w_in;
    GRID_LOOP(e, nb * g.c_in * pixels) {
        const i64 n = e / (g.c_in * pixels);
        const i64 rest = e - n * (g.c_in * pixels);
        const i64 ci = rest / pixels;
        const i64 pix = rest - ci * pixels;
        const i64 ih = pix / g.w_in;
        const i64 iw = pix - ih * g.w_in;
        double acc = 0.0;
        for (i64 i = 0; i < g.k_h; ++i) {
            const i64 th = ih + g.pad - i;  // = oh * stride
            if (th < 0 || th % g.stride != 0) continue;
            const i64 oh = th / g.stride;
            if (oh >= g.h_out) continue;
            for (i64 j = 0; j < g.k_w; ++j) {
                const i64 tw = iw + g.pad - j;
                if (tw < 0 || tw % g.stride != 0) continue;
                const i64 ow = tw / g.stride;
                if (ow >= g.w_out) continue;
                const i64 k = (ci * g.k_h + i) * g.k_w + j;
                acc += (double)dcols[k * NP + n * P + oh * g.w_out + ow];
            }
        }
        dx[e] = (T)acc;
    }
}

// y[n, c, p] += bias[c] for y of shape [batch, channels, spatial].
template <typename T>
__device__ void bias_add(i64 batch, i64 channels, i64 spatial, const T* bias, T* y) {
    GRID_LOOP(e, batch * channels * spatial) {
        const i64 c = (e / spatial) % channels;
        y[e] = y[e] + bias[c];
    }
}

// db[c] = sum over n, p of dy[n, c, p]; one block per channel, summed in double.
template <typename T>
__device__ void bias_grad(i64 batch, i64 channels, i64 spatial, const T* dy, T* db) {
    for (i64 c = blockIdx.x; c < channels; c += gridDim.x) {
        double s = 0.0;
        for (i64 e = threadIdx.x; e < batch * spatial; e += blockDim.x) {
            const i64 n = e / spatial;
            const i64 p = e - n * spatial;
            s += (double)dy[(n * channels + c) * spatial + p];
        }
        s = block_sum(s);
        if (threadIdx.x == 0) db[c] = (T)s;
    }
}

extern "C" __global__ void im2col_f32(ConvGeom g, i64 nb, const float* x, float* cols) {
    im2col<float>(g, nb, x, cols);
}
extern "C" __global__ void im2col_f64(ConvGeom g, i64 nb, const double* x, double* cols) {
    im2col<double>(g, nb, x, cols);
}
extern "C" __global__ void col2im_f32(ConvGeom g, i64 nb, const float* dcols, float* dx) {
    col2im<float>(g, nb, dcols, dx);
}
extern "C" __global__ void col2im_f64(ConvGeom g, i64 nb, const double* dcols, double* dx) {
    col2im<double>(g, nb, dcols, dx);
}
extern "C" __global__ void bias_add_f32(i64 batch, i64 channels, i64 spatial, const float* bias,
                                        float* y) {
    bias_add<float>(batch, channels, spatial, bias, y);
}
extern "C" __global__ void bias_add_f64(i64 batch, i64 channels, i64 spatial, const double* bias,
                                        double* y) {
    bias_add<double>(batch, channels, spatial, bias, y);
}
extern "C" __global__ void bias_grad_f32(i64 batch, i64 channels, i64 spatial, const float* dy,
                                         float* db) {
    bias_grad<float>(batch, channels, spatial, dy, db);
}
extern "C" __global__ void bias_grad_f64(i64 batch, i64 channels, i64 spatial, const double* dy,
                                         double* db) {
    bias_grad<double>(batch, channels, spatial, dy, db);
}
