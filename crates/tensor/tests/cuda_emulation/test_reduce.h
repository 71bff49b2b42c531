// reduce_rows, reduce_cols and argmax (reduce.cu) over x viewed as [outer, red, inner].

// op(col) of reduce.cu's op codes: sum, mean, max, min (NaN wins), biased and unbiased
// variance (two passes), in double.
inline double ref_reduce(int op, const std::vector<double>& col) {
    const double n = (double)col.size();
    if (op == 2 || op == 3) {
        double acc = op == 2 ? -INFINITY : INFINITY;
        for (double v : col) {
            if (std::isnan(v)) return NAN;
            acc = op == 2 ? std::max(acc, v) : std::min(acc, v);
        }
        return acc;
    }
    double s = 0;
    for (double v : col) s += v;
    if (op == 0) return s;
    const double mean = s / n;
    if (op == 1) return mean;
    double ss = 0;
    for (double v : col) ss += (v - mean) * (v - mean);
    return ss / (op == 5 ? n - 1 : n);
}

// Element (o, r, i) of x [outer, red, inner].
template <class T> std::vector<double> column(const std::vector<T>& x, i64 red, i64 inner, i64 o, i64 i) {
    std::vector<double> col;
    for (i64 r = 0; r < red; ++r) col.push_back(x[(o * red + r) * inner + i]);
    return col;
}

struct ReduceCase {
    i64 outer, red, inner;
};

template <class T> void test_reduce() {
    // Rows: a single element, a block-stride loop (red > BLOCK), more rows than SHORT_GRID.
    // Columns: more outputs than 2 * BLOCK, so the short grid loops.
    for (ReduceCase c : {ReduceCase{3, 1, 1}, ReduceCase{5, 7, 1}, ReduceCase{4, 600, 1}, ReduceCase{1, 1000, 1},
                         ReduceCase{3, 7, 5}, ReduceCase{2, 30, 300}, ReduceCase{5, 1, 4}}) {
        const i64 n_out = c.outer * c.inner;
        auto x = randv<T>(c.outer * c.red * c.inner);
        if (c.red == 600) x[x.size() / 2] = T(NAN);  // max and min must return it, in any block
        if (c.inner == 300) x[301] = T(NAN);
        for (int op = 0; op < 6; ++op) {
            const bool rows = c.inner == 1;
            const std::vector<unsigned> grids =
                rows ? std::vector<unsigned>{rows_grid(c.outer), SHORT_GRID} : std::vector<unsigned>{elementwise_grid(n_out), SHORT_GRID};
            for (unsigned grid : grids) {
                std::vector<T> out(n_out, T(-7));
                if (rows) {
                    run(grid, KERNEL(T, reduce_rows), c.outer, c.red, op, (const T*)x.data(), out.data());
                } else {
                    run(grid, KERNEL(T, reduce_cols), c.outer, c.red, c.inner, op, (const T*)x.data(), out.data());
                }
                for (i64 o = 0; o < c.outer; ++o)
                    for (i64 i = 0; i < c.inner; ++i) {
                        const double want = (T)ref_reduce(op, column(x, c.red, c.inner, o, i));
                        CHECK(tag<T>((rows ? "reduce_rows op " : "reduce_cols op ") + std::to_string(op) + " red " + std::to_string(c.red)),
                              out[o * c.inner + i], want, op >= 2 && op <= 3 ? 0 : accum_tol<T>());
                    }
            }
        }
        // argmax: integer values for ties (the first maximum wins), a NaN wins from its place.
        auto xi = randv<T>(c.outer * c.red * c.inner, true);
        if (c.red > 2) xi[1 * c.inner] = T(NAN);
        for (unsigned grid : {elementwise_grid(n_out), SHORT_GRID}) {
            std::vector<T> am(n_out, T(-7));
            run(grid, KERNEL(T, argmax), c.outer, c.red, c.inner, (const T*)xi.data(), am.data());
            for (i64 o = 0; o < c.outer; ++o)
                for (i64 i = 0; i < c.inner; ++i) {
                    const auto col = column(xi, c.red, c.inner, o, i);
                    i64 best = 0;
                    for (i64 r = 0; r < c.red; ++r) {
                        if (std::isnan(col[r])) {
                            best = r;
                            break;
                        }
                        if (col[r] > col[best]) best = r;
                    }
                    CHECK(tag<T>("argmax"), am[o * c.inner + i], (double)best, 0);
                }
        }
    }
}
