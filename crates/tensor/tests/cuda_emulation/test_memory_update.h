// cast (memory.cu) and the in-place updates axpby, scale, fill (update.cu).

// cast_f32 widens f32 to f64 exactly; cast_f64 narrows to the nearest f32, ties to even.
inline void test_cast() {
    const double tiny = std::ldexp(1.0, -24);
    std::vector<double> wide = {0.0, -0.0, 1.0, -2.5, 1e-3, 3.0e38, 1e39, -1e39, NAN, INFINITY,
                                1 + tiny, 1 + 3 * tiny, 1 + 1.5 * tiny, 1e-46, std::ldexp(1.0, -149)};
    for (double x : randv<double>(1000)) wide.push_back(x);
    // Nearest-even narrowing written out: the f32 neighbours below and above, then the tie.
    auto narrow = [](double x) -> double {
        if (std::isnan(x) || std::isinf(x) || x == 0) return x;
        const double overflow = std::ldexp(1.0, 128) - std::ldexp(1.0, 103);  // FLT_MAX + half an ulp
        if (std::fabs(x) >= overflow) return std::copysign(INFINITY, x);
        if (std::fabs(x) > (double)std::numeric_limits<float>::max()) return std::copysign(std::numeric_limits<float>::max(), x);
        float lo = (float)x;  // only its neighbourhood matters; fix it up below
        if ((double)lo > x) lo = std::nextafter(lo, -INFINITY);
        const float hi = std::nextafter(lo, INFINITY);
        if ((double)lo == x) return lo;
        const double dl = x - (double)lo, dh = (double)hi - x;
        if (dl != dh) return dl < dh ? lo : hi;
        int32_t bits;
        std::memcpy(&bits, &lo, 4);
        return (bits & 1) == 0 ? lo : hi;
    };
    for (unsigned grid : {elementwise_grid((i64)wide.size()), SHORT_GRID}) {
        std::vector<float> narrowed(wide.size(), -7.0f);
        run(grid, KERNEL(double, cast), (i64)wide.size(), wide.data(), narrowed.data());
        for (size_t i = 0; i < wide.size(); ++i) CHECK("cast f64 -> f32 [" + std::to_string(i) + "]", narrowed[i], narrow(wide[i]), 0);
        std::vector<double> back(wide.size(), -7.0);
        run(grid, KERNEL(float, cast), (i64)narrowed.size(), narrowed.data(), back.data());
        for (size_t i = 0; i < wide.size(); ++i) CHECK("cast f32 -> f64", back[i], (double)narrowed[i], 0);
    }
}

template <class T> void test_update() {
    const i64 n = 1000;
    auto x = randv<T>(n), y0 = randv<T>(n);
    x[3] = NAN;
    y0[5] = INFINITY;
    struct Case {
        double a, b;
    };
    // b == 0 drops y (its infinity must not become NaN), a == 0 drops x (its NaN stays out).
    for (Case c : {Case{2.0, 0.5}, Case{-0.1, 0.0}, Case{0.0, 0.9}, Case{0.3, 1.0}}) {
        for (unsigned grid : {elementwise_grid(n), SHORT_GRID}) {
            auto y = y0;
            run(grid, KERNEL(T, axpby), n, c.a, c.b, (const T*)x.data(), y.data());
            const T ta = (T)c.a, tb = (T)c.b;
            for (i64 i = 0; i < n; ++i) {
                double want;
                if (tb == 0) {
                    want = (T)((double)ta * x[i]);
                } else if (ta == 0) {
                    want = (T)((double)tb * y0[i]);
                } else {
                    want = (double)(T)((double)ta * x[i]) + (double)(T)((double)tb * y0[i]);
                }
                CHECK(tag<T>("axpby a " + std::to_string(c.a) + " b " + std::to_string(c.b)), y[i], want, eps<T>());
            }
        }
    }
    for (unsigned grid : {elementwise_grid(n), SHORT_GRID}) {
        auto y = y0;
        run(grid, KERNEL(T, scale), n, 0.1, y.data());
        for (i64 i = 0; i < n; ++i) CHECK(tag<T>("scale"), y[i], (T)((double)y0[i] * (double)(T)0.1), 0);
        run(grid, KERNEL(T, fill), n, 1.0 / 3.0, y.data());
        for (i64 i = 0; i < n; ++i) CHECK(tag<T>("fill"), y[i], (T)(1.0 / 3.0), 0);
    }
    // n = 0 writes nothing.
    std::vector<T> untouched = {T(4)};
    run(1, KERNEL(T, fill), i64(0), 1.0, untouched.data());
    CHECK(tag<T>("fill of nothing"), untouched[0], 4, 0);
}
