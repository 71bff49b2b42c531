// log_softmax (+ backward) and the fused cross-entropy (rows, mean, backward) of loss.cu,
// against the formulas evaluated in double.

struct LossCase {
    i64 rows, c;
};

template <class T> void test_loss() {
    // c > BLOCK makes each block loop over its row; rows > SHORT_GRID each block over rows.
    for (LossCase lc : {LossCase{1, 1}, LossCase{3, 10}, LossCase{5, 300}, LossCase{7, 3}}) {
        const i64 rows = lc.rows, c = lc.c;
        auto z = randv<T>(rows * c);
        for (auto& v : z) v = (T)(3 * (double)v);
        // logsumexp of each row, in double.
        std::vector<double> lse(rows);
        for (i64 r = 0; r < rows; ++r) {
            double m = -INFINITY, s = 0;
            for (i64 j = 0; j < c; ++j) m = std::max(m, (double)z[r * c + j]);
            for (i64 j = 0; j < c; ++j) s += std::exp(z[r * c + j] - m);
            lse[r] = m + std::log(s);
        }
        std::vector<T> targets(rows);
        for (i64 r = 0; r < rows; ++r) targets[r] = (T)((r * 7) % c);
        auto dy = randv<T>(rows * c);
        const T dloss[1] = {T(0.7)};
        for (unsigned grid : {rows_grid(rows), SHORT_GRID}) {
            std::vector<T> y(rows * c, T(-7)), dx(rows * c, T(-7));
            run(grid, KERNEL(T, log_softmax), rows, c, (const T*)z.data(), y.data());
            for (i64 r = 0; r < rows; ++r)
                for (i64 j = 0; j < c; ++j) CHECK(tag<T>("log_softmax"), y[r * c + j], z[r * c + j] - lse[r], approx_tol<T>());
            run(grid, KERNEL(T, log_softmax_backward), rows, c, (const T*)y.data(), (const T*)dy.data(), dx.data());
            for (i64 r = 0; r < rows; ++r) {
                double s = 0;
                for (i64 j = 0; j < c; ++j) s += dy[r * c + j];
                for (i64 j = 0; j < c; ++j)
                    CHECK(tag<T>("log_softmax_backward"), dx[r * c + j], dy[r * c + j] - std::exp(z[r * c + j] - lse[r]) * s,
                          approx_tol<T>() * (1 + std::fabs(s)));
            }
            // Cross-entropy: per-row losses in double, their mean in T, and the gradient.
            std::vector<double> losses(rows, -7);
            unsigned flags = 0;
            run(grid, KERNEL(T, cross_entropy_rows), rows, c, (const T*)z.data(), (const T*)targets.data(), losses.data(), &flags);
            double total = 0;
            for (i64 r = 0; r < rows; ++r) {
                const double want = lse[r] - z[r * c + (i64)targets[r]];
                CHECK(tag<T>("cross_entropy_rows"), losses[r], want, 1e-12);
                total += want;
            }
            CHECK(tag<T>("cross_entropy_rows flags"), flags, 0, 0);
            T mean[1] = {T(-7)};
            run(1, KERNEL(T, cross_entropy_mean), rows, (const double*)losses.data(), mean);
            CHECK(tag<T>("cross_entropy_mean"), mean[0], (T)(total / rows), accum_tol<T>());
            std::vector<T> dz(rows * c, T(-7));
            run(grid, KERNEL(T, cross_entropy_backward), rows, c, (const T*)z.data(), (const T*)targets.data(), dloss, dz.data(), &flags);
            const double scale = (double)(T)((double)dloss[0] / rows);
            for (i64 r = 0; r < rows; ++r)
                for (i64 j = 0; j < c; ++j) {
                    const double p = std::exp(z[r * c + j] - lse[r]);
                    CHECK(tag<T>("cross_entropy_backward"), dz[r * c + j], (p - (j == (i64)targets[r])) * scale, approx_tol<T>());
                }
            CHECK(tag<T>("cross_entropy_backward flags"), flags, 0, 0);
        }
        // Targets that are no class id (past the end, fractional, NaN, negative) flag the
        // error and make that row's loss and gradient NaN; the other rows are unaffected.
        for (T bad : {T(c), T(0.5), T(NAN), T(-1)}) {
            auto t = targets;
            t[0] = bad;
            std::vector<double> losses(rows, -7);
            unsigned flags = 0;
            run(rows_grid(rows), KERNEL(T, cross_entropy_rows), rows, c, (const T*)z.data(), (const T*)t.data(), losses.data(), &flags);
            CHECK(tag<T>("cross_entropy_rows bad target flag"), flags, ERR_BAD_TARGET, 0);
            CHECK(tag<T>("cross_entropy_rows bad target loss"), losses[0], NAN, 0);
            if (rows > 1) CHECK(tag<T>("cross_entropy_rows other row"), losses[1], lse[1] - z[c + (i64)t[1]], 1e-12);
            flags = 0;
            std::vector<T> dz(rows * c, T(-7));
            run(rows_grid(rows), KERNEL(T, cross_entropy_backward), rows, c, (const T*)z.data(), (const T*)t.data(), dloss, dz.data(), &flags);
            CHECK(tag<T>("cross_entropy_backward bad target flag"), flags, ERR_BAD_TARGET, 0);
            for (i64 j = 0; j < c; ++j) CHECK(tag<T>("cross_entropy_backward bad row"), dz[j], NAN, 0);
        }
    }
    // The mean over more losses than one block has threads (each thread loops).
    std::vector<double> many(1000);
    double total = 0;
    for (size_t i = 0; i < many.size(); ++i) total += many[i] = 0.001 * (double)i;
    T mean[1] = {T(-7)};
    run(1, KERNEL(T, cross_entropy_mean), (i64)many.size(), (const double*)many.data(), mean);
    CHECK(tag<T>("cross_entropy_mean of 1000"), mean[0], (T)(total / 1000), accum_tol<T>());
}
