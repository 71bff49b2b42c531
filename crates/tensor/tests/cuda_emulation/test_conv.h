// im2col, col2im, bias_add and bias_grad (conv.cu) against direct loops over the
// convolution's geometry.

struct ConvCase {
    i64 n, ci, h, w, co, kh, kw, s, p;
};

template <class T> void test_conv() {
    for (ConvCase g : {ConvCase{2, 3, 7, 5, 4, 3, 2, 2, 1}, ConvCase{1, 1, 4, 4, 2, 3, 3, 1, 0}, ConvCase{3, 2, 6, 9, 3, 4, 1, 3, 2},
                       ConvCase{2, 3, 12, 12, 5, 3, 3, 1, 1}}) {
        const i64 ho = (g.h + 2 * g.p - g.kh) / g.s + 1, wo = (g.w + 2 * g.p - g.kw) / g.s + 1;
        const i64 P = ho * wo, K = g.ci * g.kh * g.kw, image = g.ci * g.h * g.w;
        const ConvGeom cg{g.ci, g.h, g.w, g.kh, g.kw, g.s, g.p, ho, wo};
        auto x = randv<T>(g.n * image);
        // x[n, c, ih, iw], zero outside the image.
        auto xat = [&](i64 n, i64 c, i64 ih, i64 iw) -> double {
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0;
            return x[((n * g.ci + c) * g.h + ih) * g.w + iw];
        };
        // im2col of the samples from n0 on (a chunk starting inside the batch).
        const i64 n0 = g.n > 1 ? 1 : 0, nb = g.n - n0;
        for (unsigned grid : {elementwise_grid(K * nb * P), SHORT_GRID}) {
            std::vector<T> cols(K * nb * P, T(-7));
            run(grid, KERNEL(T, im2col), cg, nb, (const T*)(x.data() + n0 * image), cols.data());
            for (i64 c = 0; c < g.ci; ++c)
                for (i64 i = 0; i < g.kh; ++i)
                    for (i64 j = 0; j < g.kw; ++j)
                        for (i64 n = 0; n < nb; ++n)
                            for (i64 oh = 0; oh < ho; ++oh)
                                for (i64 ow = 0; ow < wo; ++ow) {
                                    const i64 k = (c * g.kh + i) * g.kw + j;
                                    const double want = xat(n0 + n, c, oh * g.s + i - g.p, ow * g.s + j - g.p);
                                    CHECK(tag<T>("im2col"), cols[k * nb * P + n * P + oh * wo + ow], want, 0);
                                }
        }
        // col2im, the adjoint: dx[n, c, ih, iw] = sum of the dcols entries that im2col would
        // have filled from that pixel.
        auto dcols = randv<T>(K * g.n * P);
        std::vector<double> ref(g.n * image, 0.0);
        for (i64 c = 0; c < g.ci; ++c)
            for (i64 i = 0; i < g.kh; ++i)
                for (i64 j = 0; j < g.kw; ++j)
                    for (i64 n = 0; n < g.n; ++n)
                        for (i64 oh = 0; oh < ho; ++oh)
                            for (i64 ow = 0; ow < wo; ++ow) {
                                const i64 ih = oh * g.s + i - g.p, iw = ow * g.s + j - g.p;
                                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                                const i64 k = (c * g.kh + i) * g.kw + j;
                                ref[((n * g.ci + c) * g.h + ih) * g.w + iw] += dcols[k * g.n * P + n * P + oh * wo + ow];
                            }
        for (auto& v : ref) v = (T)v;
        for (unsigned grid : {elementwise_grid(g.n * image), SHORT_GRID}) {
            std::vector<T> dx(g.n * image, T(-9));
            run(grid, KERNEL(T, col2im), cg, g.n, (const T*)dcols.data(), dx.data());
            check_all(tag<T>("col2im"), dx, ref, accum_tol<T>());
        }
        // Bias: y[n, c, p] += bias[c], and its gradient, the sum of dy over n and p.
        auto bias = randv<T>(g.co), y0 = randv<T>(g.n * g.co * P), dy = randv<T>(g.n * g.co * P);
        for (unsigned grid : {elementwise_grid(g.n * g.co * P), SHORT_GRID}) {
            auto y = y0;
            run(grid, KERNEL(T, bias_add), g.n, g.co, P, (const T*)bias.data(), y.data());
            for (i64 n = 0; n < g.n; ++n)
                for (i64 o = 0; o < g.co; ++o)
                    for (i64 q = 0; q < P; ++q) {
                        const i64 e = (n * g.co + o) * P + q;
                        CHECK(tag<T>("bias_add"), y[e], (T)((double)y0[e] + bias[o]), 0);
                    }
        }
        for (unsigned grid : {rows_grid(g.co), SHORT_GRID}) {
            std::vector<T> db(g.co, T(-7));
            run(grid, KERNEL(T, bias_grad), g.n, g.co, P, (const T*)dy.data(), db.data());
            for (i64 o = 0; o < g.co; ++o) {
                double s = 0;
                for (i64 n = 0; n < g.n; ++n)
                    for (i64 q = 0; q < P; ++q) s += dy[(n * g.co + o) * P + q];
                CHECK(tag<T>("bias_grad"), db[o], (T)s, accum_tol<T>());
            }
        }
    }
}
