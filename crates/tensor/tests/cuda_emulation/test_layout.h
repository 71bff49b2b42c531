// gather_strided, gather_rows and scatter_add_rows (layout.cu).

template <class T> void test_gather_strided() {
    // permute x [6, 8, 25] by axes (2, 0, 1): out [25, 6, 8] reads x through strides
    // [1, 200, 25]; then a broadcast [6, 1, 25] -> [6, 8, 25] (stride 0).
    const i64 a = 6, b = 8, c = 25, n = a * b * c;
    auto x = randv<T>(n);
    for (unsigned grid : {elementwise_grid(n), SHORT_GRID}) {
        std::vector<T> px(n, T(-7));
        run(grid, KERNEL(T, gather_strided), n, padded({c, a, b}, {1, b * c, c}, {}), (const T*)x.data(), n, px.data());
        for (i64 i = 0; i < c; ++i)
            for (i64 j = 0; j < a; ++j)
                for (i64 k = 0; k < b; ++k) CHECK(tag<T>("permute"), px[(i * a + j) * b + k], x[(j * b + k) * c + i], 0);
        std::vector<T> bx(n, T(-7));
        run(grid, KERNEL(T, gather_strided), n, padded({a, b, c}, {c, 0, 1}, {}), (const T*)x.data(), a * c, bx.data());
        for (i64 i = 0; i < a; ++i)
            for (i64 j = 0; j < b; ++j)
                for (i64 k = 0; k < c; ++k) CHECK(tag<T>("broadcast"), bx[(i * b + j) * c + k], x[i * c + k], 0);
    }
    // An offset past the end gives NaN.
    std::vector<T> g(n, T(-7));
    run(1, KERNEL(T, gather_strided), n, padded({c, a, b}, {1, b * c, c}, {}), (const T*)x.data(), n - 1, g.data());
    for (i64 i = 0; i < n; ++i) {
        const i64 k = i % b, j = (i / b) % a, i0 = i / (a * b);
        const i64 off = i0 + j * b * c + k * c;  // only the last output reads x[n - 1]
        CHECK(tag<T>("gather_strided guard"), g[i], off == n - 1 ? NAN : (double)x[off], 0);
    }
}

template <class T> void test_rows() {
    const i64 in_rows = 7, row_len = 130;
    std::vector<i64> idx = {2, 0, 6, 2, 1, 2, -1, 7, 3, 5};  // -1 and 7 are out of range
    const i64 out_rows = (i64)idx.size();
    auto x = randv<T>(in_rows * row_len);
    for (unsigned grid : {elementwise_grid(out_rows * row_len), SHORT_GRID}) {
        std::vector<T> g(out_rows * row_len, T(-7));
        run(grid, KERNEL(T, gather_rows), out_rows, row_len, (const i64*)idx.data(), in_rows, (const T*)x.data(), g.data());
        for (i64 r = 0; r < out_rows; ++r)
            for (i64 j = 0; j < row_len; ++j) {
                const bool ok = idx[r] >= 0 && idx[r] < in_rows;
                CHECK(tag<T>("gather_rows"), g[r * row_len + j], ok ? (double)x[idx[r] * row_len + j] : NAN, 0);
            }
    }
    // The adjoint: out rows 0..6 summed from source rows, in the given (sorted) order; row 3
    // of out is no target and keeps its zeros; target 9 and source -1 / 10 are out of range.
    const i64 src_rows = 10, out_rows2 = 6;
    auto src = randv<T>(src_rows * row_len);
    std::vector<i64> targets = {0, 1, 2, 4, 9, 5};
    std::vector<i64> offsets = {0, 1, 3, 6, 7, 8, 10};
    std::vector<i64> sources = {4, 1, 3, 0, 2, 9, 8, 6, -1, 10};
    for (unsigned grid : {elementwise_grid((i64)targets.size() * row_len), SHORT_GRID}) {
        std::vector<T> out(out_rows2 * row_len, T(0));
        run(grid, KERNEL(T, scatter_add_rows), (i64)targets.size(), row_len, (const i64*)targets.data(), (const i64*)offsets.data(),
            (const i64*)sources.data(), src_rows, out_rows2, (const T*)src.data(), out.data());
        std::vector<T> want(out_rows2 * row_len, T(0));
        for (size_t u = 0; u < targets.size(); ++u) {
            if (targets[u] < 0 || targets[u] >= out_rows2) continue;
            for (i64 j = 0; j < row_len; ++j) {
                T acc = T(0);  // in T and in order: the kernel's sums equal the CPU's
                for (i64 k = offsets[u]; k < offsets[u + 1]; ++k)
                    if (sources[k] >= 0 && sources[k] < src_rows) acc = (T)((double)acc + src[sources[k] * row_len + j]);
                want[targets[u] * row_len + j] = acc;
            }
        }
        check_all(tag<T>("scatter_add_rows"), out, want, 0);
    }
}

template <class T> void test_layout() {
    test_gather_strided<T>();
    test_rows<T>();
}
