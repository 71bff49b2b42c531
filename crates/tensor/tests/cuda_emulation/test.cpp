// Checks the logic of every CUDA kernel on the CPU (see run.sh) against direct references.
#include "all_kernels.h"
#include <cstdio>
#include <random>
#include <cassert>
#include <string>

static std::mt19937_64 gen(42);
static int failures = 0;
std::vector<double> randv(size_t n, bool ints = false) {
    std::normal_distribution<double> d(0, 1);
    std::uniform_int_distribution<int> u(-3, 3);
    std::vector<double> v(n);
    for (auto& x : v) x = ints ? u(gen) : d(gen);
    return v;
}
template <class T> std::vector<T> cvt(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }
void check(const std::string& what, double got, double want, double tol) {
    bool ok = (std::isnan(got) && std::isnan(want)) || std::fabs(got - want) <= tol * (1 + std::fabs(want));
    if (!ok) { if (failures < 30) printf("FAIL %s: got %.17g want %.17g\n", what.c_str(), got, want); failures++; }
}
const unsigned B = 64;  // threads per block in the emulation (a multiple of 32)

// ---------------- reduce ----------------
double ref_reduce(int op, const std::vector<double>& col) {
    size_t n = col.size();
    if (op == 2 || op == 3) {
        double acc = op == 2 ? -INFINITY : INFINITY;
        for (double v : col) acc = op == 2 ? ((std::isnan(acc) || acc >= v) ? acc : v) : ((std::isnan(acc) || acc <= v) ? acc : v);
        return acc;
    }
    double s = 0; for (double v : col) s += v;
    if (op == 0) return s;
    double mean = s / n;
    if (op == 1) return mean;
    double ss = 0; for (double v : col) ss += (v - mean) * (v - mean);
    return ss / (op == 5 ? n - 1.0 : (double)n);
}
void test_reduce() {
    for (auto [outer, red, inner] : std::vector<std::tuple<i64, i64, i64>>{{3, 1, 1}, {2, 5, 1}, {4, 200, 1}, {1, 1000, 1}, {3, 7, 5}, {2, 300, 3}, {5, 1, 4}}) {
        auto x = randv(outer * red * inner);
        if (x.size() > 3) x[x.size() / 2] = (outer == 4) ? NAN : x[x.size() / 2];
        for (int op = 0; op < 6; ++op) {
            std::vector<double> out(outer * inner, -7);
            if (inner == 1) launch(std::min<i64>(outer, 3), B, [&] { reduce_rows_f64(outer, red, op, x.data(), out.data()); });
            else launch(2, B, [&] { reduce_cols_f64(outer, red, inner, op, x.data(), out.data()); });
            for (i64 o = 0; o < outer; ++o) for (i64 i = 0; i < inner; ++i) {
                std::vector<double> col; for (i64 r = 0; r < red; ++r) col.push_back(x[(o * red + r) * inner + i]);
                check("reduce op " + std::to_string(op) + " red " + std::to_string(red), out[o * inner + i], ref_reduce(op, col), 1e-12);
            }
            // f32
            auto xf = cvt<float>(x); std::vector<float> outf(outer * inner, -7);
            if (inner == 1) launch(2, B, [&] { reduce_rows_f32(outer, red, op, xf.data(), outf.data()); });
            else launch(2, B, [&] { reduce_cols_f32(outer, red, inner, op, xf.data(), outf.data()); });
            for (i64 o = 0; o < outer; ++o) for (i64 i = 0; i < inner; ++i) {
                std::vector<double> col; for (i64 r = 0; r < red; ++r) col.push_back((double)xf[(o * red + r) * inner + i]);
                check("reduce f32 op " + std::to_string(op), outf[o * inner + i], (float)ref_reduce(op, col), 1e-6);
            }
        }
        // argmax with ties
        auto xi = randv(outer * red * inner, true);
        if (red > 2) xi[1 * inner] = NAN;
        std::vector<double> am(outer * inner);
        launch(2, B, [&] { argmax_f64(outer, red, inner, xi.data(), am.data()); });
        for (i64 o = 0; o < outer; ++o) for (i64 i = 0; i < inner; ++i) {
            i64 best = 0; double bv = xi[o * red * inner + i];
            for (i64 r = 1; r < red; ++r) { double v = xi[(o * red + r) * inner + i]; if (!std::isnan(bv) && (std::isnan(v) || v > bv)) { best = r; bv = v; } }
            check("argmax", am[o * inner + i], best, 0);
        }
    }
}

// ---------------- elementwise / layout ----------------
Strided padded(std::vector<i64> shape, std::vector<i64> s0, std::vector<i64> s1) {
    Strided m; int off = MAX_RANK - shape.size();
    for (int d = 0; d < MAX_RANK; ++d) { m.shape[d] = 1; m.s0[d] = 0; m.s1[d] = 0; }
    for (size_t d = 0; d < shape.size(); ++d) { m.shape[off + d] = shape[d]; m.s0[off + d] = s0[d]; m.s1[off + d] = s1.empty() ? 0 : s1[d]; }
    return m;
}
void test_elementwise_layout() {
    // [2, 3, 4] - [3, 1]
    auto a = randv(24), b = randv(3);
    Strided m = padded({2, 3, 4}, {12, 4, 1}, {0, 1, 0});
    std::vector<double> out(24);
    launch(1, B, [&] { binary_bcast_f64(24, m, 1, 0, 0, a.data(), 24, b.data(), 3, out.data()); });
    for (int i = 0; i < 2; ++i) for (int j = 0; j < 3; ++j) for (int k = 0; k < 4; ++k)
        check("bcast sub", out[(i * 3 + j) * 4 + k], a[(i * 3 + j) * 4 + k] - b[j], 0);
    // out-of-range metadata gives NaN, not a crash
    launch(1, B, [&] { binary_bcast_f64(24, m, 0, 0, 0, a.data(), 24, b.data(), 2, out.data()); });
    check("bcast guard", out[23], NAN, 0);
    // permute [3, 4, 5] -> axes (2, 0, 1): out shape [5, 3, 4], strides into x [1, 20, 5]
    auto x = randv(60);
    Strided p = padded({5, 3, 4}, {1, 20, 5}, {});
    std::vector<double> px(60);
    launch(3, B, [&] { gather_strided_f64(60, p, x.data(), 60, px.data()); });
    for (int i = 0; i < 5; ++i) for (int j = 0; j < 3; ++j) for (int k = 0; k < 4; ++k)
        check("permute", px[(i * 3 + j) * 4 + k], x[(j * 4 + k) * 5 + i], 0);
    // gather / scatter rows
    std::vector<i64> idx = {2, 0, 2, 1, 2};
    auto rows = randv(3 * 7);
    std::vector<double> g(5 * 7);
    launch(2, B, [&] { gather_rows_f64(5, 7, idx.data(), 3, rows.data(), g.data()); });
    for (int r = 0; r < 5; ++r) for (int j = 0; j < 7; ++j) check("gather", g[r * 7 + j], rows[idx[r] * 7 + j], 0);
    std::vector<i64> targets = {0, 1, 2}, offsets = {0, 1, 2, 5}, sources = {1, 3, 0, 2, 4};
    std::vector<double> sc(4 * 7, 0.0);
    launch(2, B, [&] { scatter_add_rows_f64(3, 7, targets.data(), offsets.data(), sources.data(), 5, 4, g.data(), sc.data()); });
    for (int j = 0; j < 7; ++j) {
        check("scatter 0", sc[0 * 7 + j], g[1 * 7 + j], 0);
        check("scatter 2", sc[2 * 7 + j], (0.0 + g[0 * 7 + j]) + g[2 * 7 + j] + g[4 * 7 + j], 0);
        check("scatter 3", sc[3 * 7 + j], 0.0, 0);
    }
    // unary and axpby
    auto u = randv(100); std::vector<double> uo(100);
    launch(1, B, [&] { unary_f64(100, 12, 0.3, -1.1, u.data(), uo.data()); });
    for (int i = 0; i < 100; ++i) check("affine", uo[i], u[i] * 0.3 + -1.1, 0);
    auto y = randv(100); auto yy = y;
    launch(1, B, [&] { axpby_f64(100, 2.0, 0.5, u.data(), yy.data()); });
    for (int i = 0; i < 100; ++i) check("axpby", yy[i], 2.0 * u[i] + 0.5 * y[i], 0);
}

// ---------------- conv ----------------
struct G { i64 n, ci, h, w, co, kh, kw, s, p, ho, wo; };
double xat(const std::vector<double>& x, const G& g, i64 n, i64 c, i64 ih, i64 iw) {
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0;
    return x[((n * g.ci + c) * g.h + ih) * g.w + iw];
}
void gemm(i64 m, i64 n, i64 k, const double* a, bool ta, const double* b, bool tb, double* c, double beta) {
    for (i64 i = 0; i < m; ++i) for (i64 j = 0; j < n; ++j) {
        double s = 0; for (i64 q = 0; q < k; ++q) s += (ta ? a[q * m + i] : a[i * k + q]) * (tb ? b[j * k + q] : b[q * n + j]);
        c[i * n + j] = beta * c[i * n + j] + s;
    }
}
void test_conv() {
    for (G g : std::vector<G>{{2, 3, 7, 5, 4, 3, 2, 2, 1}, {1, 1, 4, 4, 2, 3, 3, 1, 0}, {3, 2, 6, 9, 3, 4, 1, 3, 2}}) {
        g.ho = (g.h + 2 * g.p - g.kh) / g.s + 1; g.wo = (g.w + 2 * g.p - g.kw) / g.s + 1;
        i64 P = g.ho * g.wo, K = g.ci * g.kh * g.kw;
        i64 geom[9] = {g.ci, g.h, g.w, g.kh, g.kw, g.s, g.p, g.ho, g.wo};
        ConvGeom cg; std::memcpy(&cg, geom, sizeof cg);
        auto x = randv(g.n * g.ci * g.h * g.w), w = randv(g.co * K), dy = randv(g.n * g.co * P);
        // forward through im2col for samples 1.. (offset x), chunk = all remaining
        i64 n0 = g.n > 1 ? 1 : 0, nb = g.n - n0;
        std::vector<double> cols(K * nb * P), yt(g.co * nb * P);
        launch(2, B, [&] { im2col_f64(cg, nb, x.data() + n0 * g.ci * g.h * g.w, cols.data()); });
        gemm(g.co, nb * P, K, w.data(), false, cols.data(), false, yt.data(), 0);
        for (i64 n = 0; n < nb; ++n) for (i64 o = 0; o < g.co; ++o) for (i64 oh = 0; oh < g.ho; ++oh) for (i64 ow = 0; ow < g.wo; ++ow) {
            double s = 0;
            for (i64 c = 0; c < g.ci; ++c) for (i64 i = 0; i < g.kh; ++i) for (i64 j = 0; j < g.kw; ++j)
                s += w[((o * g.ci + c) * g.kh + i) * g.kw + j] * xat(x, g, n0 + n, c, oh * g.s + i - g.p, ow * g.s + j - g.p);
            check("im2col forward", yt[o * nb * P + n * P + oh * g.wo + ow], s, 1e-12);
        }
        // backward input: dcols = W^T dyt, col2im
        std::vector<double> dyt(g.co * g.n * P);
        for (i64 n = 0; n < g.n; ++n) for (i64 o = 0; o < g.co; ++o) for (i64 q = 0; q < P; ++q) dyt[o * g.n * P + n * P + q] = dy[(n * g.co + o) * P + q];
        std::vector<double> dcols(K * g.n * P), dx(g.n * g.ci * g.h * g.w, -9);
        gemm(K, g.n * P, g.co, w.data(), true, dyt.data(), false, dcols.data(), 0);
        launch(3, B, [&] { col2im_f64(cg, g.n, dcols.data(), dx.data()); });
        std::vector<double> ref(dx.size(), 0);
        for (i64 n = 0; n < g.n; ++n) for (i64 o = 0; o < g.co; ++o) for (i64 oh = 0; oh < g.ho; ++oh) for (i64 ow = 0; ow < g.wo; ++ow)
            for (i64 c = 0; c < g.ci; ++c) for (i64 i = 0; i < g.kh; ++i) for (i64 j = 0; j < g.kw; ++j) {
                i64 ih = oh * g.s + i - g.p, iw = ow * g.s + j - g.p;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                ref[((n * g.ci + c) * g.h + ih) * g.w + iw] += w[((o * g.ci + c) * g.kh + i) * g.kw + j] * dy[((n * g.co + o) * g.ho + oh) * g.wo + ow];
            }
        for (size_t e = 0; e < dx.size(); ++e) check("col2im", dx[e], ref[e], 1e-12);
        // backward weight: dW = dyt cols^T, two chunks accumulated with beta
        std::vector<double> dw(g.co * K, 0.0);
        for (i64 c0 = 0; c0 < g.n; c0 += 2) {
            i64 b = std::min<i64>(2, g.n - c0);
            std::vector<double> cl(K * b * P), dt(g.co * b * P);
            launch(1, B, [&] { im2col_f64(cg, b, x.data() + c0 * g.ci * g.h * g.w, cl.data()); });
            for (i64 n = 0; n < b; ++n) for (i64 o = 0; o < g.co; ++o) for (i64 q = 0; q < P; ++q) dt[o * b * P + n * P + q] = dy[((c0 + n) * g.co + o) * P + q];
            gemm(g.co, K, b * P, dt.data(), false, cl.data(), true, dw.data(), c0 == 0 ? 0.0 : 1.0);
        }
        for (i64 o = 0; o < g.co; ++o) for (i64 c = 0; c < g.ci; ++c) for (i64 i = 0; i < g.kh; ++i) for (i64 j = 0; j < g.kw; ++j) {
            double s = 0;
            for (i64 n = 0; n < g.n; ++n) for (i64 oh = 0; oh < g.ho; ++oh) for (i64 ow = 0; ow < g.wo; ++ow)
                s += dy[((n * g.co + o) * g.ho + oh) * g.wo + ow] * xat(x, g, n, c, oh * g.s + i - g.p, ow * g.s + j - g.p);
            check("weight grad", dw[o * K + (c * g.kh + i) * g.kw + j], s, 1e-12);
        }
        // bias
        auto bias = randv(g.co); std::vector<double> y(g.n * g.co * P, 1.0);
        launch(2, B, [&] { bias_add_f64(g.n, g.co, P, bias.data(), y.data()); });
        for (i64 n = 0; n < g.n; ++n) for (i64 o = 0; o < g.co; ++o) for (i64 q = 0; q < P; ++q) check("bias_add", y[(n * g.co + o) * P + q], 1.0 + bias[o], 0);
        std::vector<double> db(g.co);
        launch(2, B, [&] { bias_grad_f64(g.n, g.co, P, dy.data(), db.data()); });
        for (i64 o = 0; o < g.co; ++o) { double s = 0; for (i64 n = 0; n < g.n; ++n) for (i64 q = 0; q < P; ++q) s += dy[(n * g.co + o) * P + q]; check("bias_grad", db[o], s, 1e-12); }
    }
}

// ---------------- loss ----------------
void test_loss() {
    for (auto [rows, c] : std::vector<std::pair<i64, i64>>{{1, 1}, {3, 10}, {2, 300}, {5, 3}}) {
        auto z = randv(rows * c);
        std::vector<double> y(rows * c);
        launch(2, B, [&] { log_softmax_f64(rows, c, z.data(), y.data()); });
        for (i64 r = 0; r < rows; ++r) {
            double m = -INFINITY; for (i64 j = 0; j < c; ++j) m = std::max(m, z[r * c + j]);
            double s = 0; for (i64 j = 0; j < c; ++j) s += std::exp(z[r * c + j] - m);
            for (i64 j = 0; j < c; ++j) check("log_softmax", y[r * c + j], z[r * c + j] - (m + std::log(s)), 1e-12);
        }
        auto dy = randv(rows * c); std::vector<double> dx(rows * c);
        launch(1, B, [&] { log_softmax_backward_f64(rows, c, y.data(), dy.data(), dx.data()); });
        for (i64 r = 0; r < rows; ++r) { double s = 0; for (i64 j = 0; j < c; ++j) s += dy[r * c + j];
            for (i64 j = 0; j < c; ++j) check("lsm backward", dx[r * c + j], dy[r * c + j] - std::exp(y[r * c + j]) * s, 1e-12); }
        std::vector<double> t(rows); for (i64 r = 0; r < rows; ++r) t[r] = (double)((r * 7) % c);
        std::vector<double> losses(rows); unsigned flags = 0; double out = -1;
        launch(2, B, [&] { cross_entropy_rows_f64(rows, c, z.data(), t.data(), losses.data(), &flags); });
        launch(1, B, [&] { cross_entropy_mean_f64(rows, losses.data(), &out); });
        double want = 0; for (i64 r = 0; r < rows; ++r) want += -y[r * c + (i64)t[r]];
        check("ce", out, want / rows, 1e-12); check("ce flags", flags, 0, 0);
        double dl = 0.7; std::vector<double> dz(rows * c);
        launch(2, B, [&] { cross_entropy_backward_f64(rows, c, z.data(), t.data(), &dl, dz.data(), &flags); });
        for (i64 r = 0; r < rows; ++r) for (i64 j = 0; j < c; ++j)
            check("ce backward", dz[r * c + j], (std::exp(y[r * c + j]) - (j == (i64)t[r])) * dl / rows, 1e-12);
        // a bad target
        t[0] = c + 0.0;
        launch(1, B, [&] { cross_entropy_rows_f64(rows, c, z.data(), t.data(), losses.data(), &flags); });
        check("ce bad target flag", flags, 1, 0); check("ce bad loss", losses[0], NAN, 0);
    }
}

// ---------------- norm ----------------
struct NG { i64 n, c, s, per_group, cpg; };
void test_norm() {
    for (NG ng : std::vector<NG>{{3, 4, 5, 0, 1}, {2, 6, 700, 0, 1}, {2, 6, 3, 1, 2}, {1, 3, 1, 1, 3}, {2, 4, 100, 1, 1}}) {
        i64 groups = ng.per_group ? ng.c / ng.cpg : 0;
        i64 stats = ng.per_group ? ng.n * groups : ng.c;
        i64 numel = ng.n * ng.c * ng.s, m = numel / stats;
        for (i64 affine : {ng.c, (i64)1}) {
            i64 gv[9] = {ng.n, ng.c, ng.s, ng.per_group, ng.cpg, stats, m, affine, 0};
            NormGeom g; std::memcpy(&g, gv, sizeof g);
            auto x = randv(numel);
            for (auto& v : x) v += 0.5;
            auto rowk = [&](i64 r) { return ng.per_group ? r / ng.cpg : r % ng.c; };
            std::vector<std::vector<double>> members(stats);
            for (i64 i = 0; i < numel; ++i) members[rowk(i / ng.s)].push_back(x[i]);
            i64 splits = std::max<i64>(1, std::min<i64>((m + 99) / 100, 7));
            std::vector<double> ps(stats * splits), pq(stats * splits), mean(stats), var(stats), inv(stats), sum(stats), sq(stats);
            launch(3, B, [&] { norm_partial_sums_f64(g, splits, 0, x.data(), ps.data(), pq.data()); });
            launch(3, B, [&] { norm_partial_sq_f64(g, splits, x.data(), ps.data(), pq.data()); });
            launch(1, B, [&] { norm_finish_stats_f64(g, splits, ps.data(), pq.data(), m - 1.0, 1e-5, mean.data(), var.data(), inv.data()); });
            launch(3, B, [&] { norm_partial_sums_f64(g, splits, 1, x.data(), ps.data(), pq.data()); });
            launch(1, B, [&] { norm_finish_sums_f64(g, splits, ps.data(), pq.data(), sum.data(), sq.data()); });
            for (i64 k = 0; k < stats; ++k) {
                double s = 0, q = 0; for (double v : members[k]) { s += v; q += v * v; }
                double mu = s / m, ss = 0; for (double v : members[k]) ss += (v - mu) * (v - mu);
                check("mean", mean[k], mu, 1e-12); check("var", var[k], ss / (m - 1.0), 1e-12);
                check("invstd", inv[k], 1 / std::sqrt(ss / (m - 1.0) + 1e-5), 1e-12);
                check("sum", sum[k], s, 1e-12); check("sumsq", sq[k], q, 1e-12);
            }
            auto scale = randv(affine), shift = randv(affine);
            std::vector<double> y(numel);
            launch(2, B, [&] { norm_apply_f64(g, x.data(), mean.data(), inv.data(), scale.data(), shift.data(), y.data()); });
            auto aff = [&](i64 r) { return affine == 1 ? 0 : r % ng.c; };
            for (i64 i = 0; i < numel; ++i) { i64 r = i / ng.s, k = rowk(r);
                check("apply", y[i], (x[i] - mean[k]) * inv[k] * scale[aff(r)] + shift[aff(r)], 1e-12); }
            // backward, every mode, against the formulas directly
            auto dy = randv(numel);
            std::vector<double> live(stats); for (i64 k = 0; k < stats; ++k) live[k] = k % 3 != 1;
            for (int mode = 0; mode < 4; ++mode) {
                int m2 = mode == 3 ? 2 : mode; int has_live = mode == 3; double share = 0.3, divisor = m - 1.0;
                std::vector<double> a(ng.n * ng.c), b(ng.n * ng.c), dscale(affine), dshift(affine), ca(stats), cb(stats), dx(numel);
                if (ng.s < 64) launch(2, B, [&] { norm_row_sums_thread_f64(g, x.data(), dy.data(), mean.data(), inv.data(), a.data(), b.data()); });
                else launch(2, B, [&] { norm_row_sums_block_f64(g, x.data(), dy.data(), mean.data(), inv.data(), a.data(), b.data()); });
                launch(1, B, [&] { norm_affine_grads_f64(g, a.data(), b.data(), dscale.data(), dshift.data()); });
                launch(1, B, [&] { norm_coefficients_f64(g, m2, divisor, share, inv.data(), scale.data(), has_live, live.data(), a.data(), b.data(), ca.data(), cb.data()); });
                launch(2, B, [&] { norm_dx_f64(g, m2 == 0, x.data(), dy.data(), mean.data(), inv.data(), scale.data(), ca.data(), cb.data(), dx.data()); });
                std::vector<double> rs(affine), rh(affine), sg(stats), sgx(stats);
                for (i64 i = 0; i < numel; ++i) { i64 r = i / ng.s, k = rowk(r); double xh = (x[i] - mean[k]) * inv[k];
                    rh[aff(r)] += dy[i]; rs[aff(r)] += dy[i] * xh; sg[k] += scale[aff(r)] * dy[i]; sgx[k] += scale[aff(r)] * dy[i] * xh; }
                for (i64 c = 0; c < affine; ++c) { check("dscale", dscale[c], rs[c], 1e-11); check("dshift", dshift[c], rh[c], 1e-11); }
                for (i64 i = 0; i < numel; ++i) { i64 r = i / ng.s, k = rowk(r); double xh = (x[i] - mean[k]) * inv[k];
                    double A = 0, Bc = 0;
                    if (m2 == 1) { A = -inv[k] * sg[k] / m; Bc = -inv[k] * sgx[k] / divisor; }
                    if (m2 == 2) { A = -share * inv[k] * sg[k]; Bc = (has_live && live[k] == 0) ? 0 : -share * inv[k] * sgx[k]; }
                    check("dx mode " + std::to_string(mode), dx[i], dy[i] * scale[aff(r)] * inv[k] + A + Bc * xh, 1e-10); }
            }
        }
    }
}

int main() {
    test_reduce(); printf("reduce done (%d failures)\n", failures);
    test_elementwise_layout(); printf("elementwise/layout done (%d)\n", failures);
    test_conv(); printf("conv done (%d)\n", failures);
    test_loss(); printf("loss done (%d)\n", failures);
    test_norm(); printf("norm done (%d)\n", failures);
    return failures != 0;
}
