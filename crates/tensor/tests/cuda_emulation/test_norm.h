// The fused normalisation kernels (norm.cu): statistics, apply, and every backward mode,
// against the formulas of ops/norm/mod.rs evaluated directly.

struct NormCase {
    i64 n, c, s, per_group, cpg;
};

template <class T> void test_norm() {
    // Per channel and per group; rows of fewer and more than BLOCK elements; groups split
    // across up to 7 blocks.
    for (NormCase nc : {NormCase{3, 4, 5, 0, 1}, NormCase{2, 6, 700, 0, 1}, NormCase{2, 6, 3, 1, 2}, NormCase{1, 3, 1, 1, 3},
                        NormCase{2, 4, 100, 1, 1}, NormCase{4, 3, 300, 0, 1}}) {
        const i64 groups = nc.per_group ? nc.c / nc.cpg : 0;
        const i64 stats = nc.per_group ? nc.n * groups : nc.c;
        const i64 numel = nc.n * nc.c * nc.s, m = numel / stats, rows = nc.n * nc.c;
        const double tol = std::max(approx_tol<T>(), accum_tol<T>());
        auto x = randv<T>(numel);
        for (auto& v : x) v = (T)((double)v + 0.5);
        auto dy = randv<T>(numel);
        auto stat_of = [&](i64 r) { return nc.per_group ? r / nc.cpg : r % nc.c; };
        std::vector<std::vector<double>> members(stats);
        for (i64 i = 0; i < numel; ++i) members[stat_of(i / nc.s)].push_back(x[i]);
        const i64 splits = std::clamp<i64>((m + 99) / 100, 1, 7);
        for (bool short_grid : {false, true}) {
            auto grid = [&](unsigned production) { return short_grid ? SHORT_GRID : production; };
            // Statistics and row sums do not read the affine parameters.
            const NormGeom gs{nc.n, nc.c, nc.s, nc.per_group, nc.cpg, stats, m, nc.c, 0};
            std::vector<double> ps(stats * splits), pq(stats * splits);
            std::vector<T> mean(stats), var(stats), inv(stats), sum(stats), sq(stats);
            const double divisor = m - 1.0, eps = 1e-5;
            run(grid(rows_grid(stats * splits)), KERNEL(T, norm_partial_sums), gs, splits, 0, (const T*)x.data(), ps.data(), pq.data());
            run(grid(rows_grid(stats * splits)), KERNEL(T, norm_partial_sq), gs, splits, (const T*)x.data(), (const double*)ps.data(), pq.data());
            run(grid(elementwise_grid(stats)), KERNEL(T, norm_finish_stats), gs, splits, (const double*)ps.data(), (const double*)pq.data(),
                divisor, eps, mean.data(), var.data(), inv.data());
            run(grid(rows_grid(stats * splits)), KERNEL(T, norm_partial_sums), gs, splits, 1, (const T*)x.data(), ps.data(), pq.data());
            run(grid(elementwise_grid(stats)), KERNEL(T, norm_finish_sums), gs, splits, (const double*)ps.data(), (const double*)pq.data(),
                sum.data(), sq.data());
            for (i64 k = 0; k < stats; ++k) {
                double s = 0, q = 0;
                for (double v : members[k]) {
                    s += v;
                    q += v * v;
                }
                const double mu = s / m;
                double ss = 0;
                for (double v : members[k]) ss += (v - mu) * (v - mu);
                CHECK(tag<T>("norm mean"), mean[k], (T)mu, accum_tol<T>());
                CHECK(tag<T>("norm var"), var[k], (T)(ss / divisor), accum_tol<T>());
                CHECK(tag<T>("norm invstd"), inv[k], (T)(1 / std::sqrt(ss / divisor + eps)), accum_tol<T>());
                CHECK(tag<T>("norm sum"), sum[k], (T)s, accum_tol<T>());
                CHECK(tag<T>("norm sumsq"), sq[k], (T)q, accum_tol<T>());
            }
            // Backward: per-row sums (both kernels, at every row length), affine grads,
            // coefficients of each gradient mode, dx.
            std::vector<double> ra(rows), rb(rows);  // the reference row sums
            for (i64 i = 0; i < numel; ++i) {
                const i64 r = i / nc.s, k = stat_of(r);
                ra[r] += dy[i];
                rb[r] += dy[i] * ((double)x[i] - mean[k]) * inv[k];
            }
            std::vector<double> a(rows, -7), b(rows, -7);
            run(grid(rows_grid(rows)), KERNEL(T, norm_row_sums_block), gs, (const T*)x.data(), (const T*)dy.data(), (const T*)mean.data(),
                (const T*)inv.data(), a.data(), b.data());
            check_all(tag<T>("norm_row_sums_block a"), a, ra, 1e-12);
            check_all(tag<T>("norm_row_sums_block b"), b, rb, 1e-12);
            std::fill(a.begin(), a.end(), -7);
            std::fill(b.begin(), b.end(), -7);
            run(grid(elementwise_grid(rows)), KERNEL(T, norm_row_sums_thread), gs, (const T*)x.data(), (const T*)dy.data(),
                (const T*)mean.data(), (const T*)inv.data(), a.data(), b.data());
            check_all(tag<T>("norm_row_sums_thread a"), a, ra, 1e-12);
            check_all(tag<T>("norm_row_sums_thread b"), b, rb, 1e-12);
            for (i64 affine : {nc.c, (i64)1}) {
                const NormGeom g{nc.n, nc.c, nc.s, nc.per_group, nc.cpg, stats, m, affine, 0};
                auto aff = [&](i64 r) { return affine == 1 ? 0 : r % nc.c; };
                auto scale = randv<T>(affine), shift = randv<T>(affine);
                std::vector<T> y(numel, T(-7));
                run(grid(elementwise_grid(numel)), KERNEL(T, norm_apply), g, (const T*)x.data(), (const T*)mean.data(), (const T*)inv.data(),
                    (const T*)scale.data(), (const T*)shift.data(), y.data());
                for (i64 i = 0; i < numel; ++i) {
                    const i64 r = i / nc.s, k = stat_of(r);
                    const double xh = ((double)x[i] - mean[k]) * inv[k];
                    CHECK(tag<T>("norm_apply"), y[i], xh * scale[aff(r)] + shift[aff(r)], tol * (1 + std::fabs(xh * scale[aff(r)])));
                }
                std::vector<T> dscale(affine), dshift(affine);
                run(grid(elementwise_grid(affine)), KERNEL(T, norm_affine_grads), g, (const double*)a.data(), (const double*)b.data(),
                    dscale.data(), dshift.data());
                std::vector<double> rs(affine), rh(affine), sg(stats), sgx(stats);
                for (i64 r = 0; r < rows; ++r) {
                    rh[aff(r)] += ra[r];
                    rs[aff(r)] += rb[r];
                    sg[stat_of(r)] += (double)scale[aff(r)] * ra[r];
                    sgx[stat_of(r)] += (double)scale[aff(r)] * rb[r];
                }
                for (i64 c = 0; c < affine; ++c) {
                    CHECK(tag<T>("norm_affine_grads dscale"), dscale[c], (T)rs[c], accum_tol<T>());
                    CHECK(tag<T>("norm_affine_grads dshift"), dshift[c], (T)rh[c], accum_tol<T>());
                }
                std::vector<T> live(stats);
                for (i64 k = 0; k < stats; ++k) live[k] = T(k % 3 != 1);
                // Modes 0 detached, 1 batch, 2 running; 3 is running with `live` flags.
                for (int mode = 0; mode < 4; ++mode) {
                    const int kmode = mode == 3 ? 2 : mode, has_live = mode == 3;
                    const double share = 0.3;
                    std::vector<T> ca(stats, T(-7)), cb(stats, T(-7)), dx(numel, T(-7));
                    run(grid(elementwise_grid(stats)), KERNEL(T, norm_coefficients), g, kmode, divisor, share, (const T*)inv.data(),
                        (const T*)scale.data(), has_live, (const T*)live.data(), (const double*)a.data(), (const double*)b.data(), ca.data(),
                        cb.data());
                    std::vector<double> A(stats), B(stats);
                    for (i64 k = 0; k < stats; ++k) {
                        if (kmode == 1) {
                            A[k] = -inv[k] * sg[k] / m;
                            B[k] = -inv[k] * sgx[k] / divisor;
                        } else if (kmode == 2) {
                            A[k] = -share * inv[k] * sg[k];
                            B[k] = (has_live && live[k] == 0) ? 0 : -share * inv[k] * sgx[k];
                        }
                        CHECK(tag<T>("norm_coefficients A mode " + std::to_string(mode)), ca[k], (T)A[k], tol);
                        CHECK(tag<T>("norm_coefficients B mode " + std::to_string(mode)), cb[k], (T)B[k], tol);
                    }
                    run(grid(elementwise_grid(numel)), KERNEL(T, norm_dx), g, kmode == 0, (const T*)x.data(), (const T*)dy.data(),
                        (const T*)mean.data(), (const T*)inv.data(), (const T*)scale.data(), (const T*)ca.data(), (const T*)cb.data(),
                        dx.data());
                    for (i64 i = 0; i < numel; ++i) {
                        const i64 r = i / nc.s, k = stat_of(r);
                        const double xh = ((double)x[i] - mean[k]) * inv[k];
                        const double direct = (double)dy[i] * scale[aff(r)] * inv[k];
                        const double size = std::fabs(direct) + std::fabs(A[k]) + std::fabs(B[k] * xh);
                        CHECK(tag<T>("norm_dx mode " + std::to_string(mode)), dx[i], direct + A[k] + B[k] * xh, tol * (1 + size));
                    }
                }
            }
        }
    }
}
