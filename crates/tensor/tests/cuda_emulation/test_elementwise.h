// binary_same, binary_bcast and unary (elementwise.cu), every op code, against references
// computed in double and rounded to T (exact for the correctly rounded operations).

constexpr int BINARY_OPS = 16;  // B_ADD .. B_CLAMP_GRAD
constexpr int UNARY_OPS = 13;   // U_NEG .. U_AFFINE
constexpr double P0 = 0.25, P1 = 0.75;

// op(a, b) of elementwise.cu's binary op codes; `approx` is set for pow (not correctly
// rounded on either side).
template <class T> double ref_binary(int op, T a, T b, bool* approx) {
    const double x = a, y = b;
    const bool nan = std::isnan(x) || std::isnan(y);
    *approx = op == 4;
    switch (op) {
        case 0: return (T)(x + y);
        case 1: return (T)(x - y);
        case 2: return (T)(x * y);
        case 3: return (T)(x / y);
        case 4: return (T)std::pow(x, y);
        case 5: return nan ? NAN : (x < y ? y : x);
        case 6: return nan ? NAN : (x > y ? y : x);
        case 7: return x == y;
        case 8: return x != y;
        case 9: return x < y;
        case 10: return x <= y;
        case 11: return x > y;
        case 12: return x >= y;
        case 13: return (x > 0 || std::isnan(x)) ? y : 0.0;
        case 14: return x > 0 ? y : (double)(T)((double)(T)P0 * y);
        case 15: return (x >= P0 && x <= P1) ? y : 0.0;
        default: return NAN;
    }
}

template <class T> double ref_unary(int op, T v, bool* approx) {
    const double x = v;
    *approx = op == 1 || op == 2 || op == 4 || op == 11 || op == 12;
    switch (op) {
        case 0: return -x;
        case 1: return (T)std::exp(x);
        case 2: return (T)std::log(x);
        case 3: return (T)std::sqrt(x);
        case 4: return (T)(1.0 / std::sqrt(x));
        case 5: return (T)(1.0 / x);
        case 6: return std::fabs(x);
        case 7: return (T)(x * x);
        case 8: return (x > 0 || std::isnan(x)) ? x : 0.0;
        case 9: return x > 0 ? x : (double)(T)((double)(T)P0 * x);
        case 10: return std::isnan(x) ? NAN : std::clamp(x, (double)(T)P0, (double)(T)P1);
        case 11: return (T)std::pow(x, (double)(T)P0);
        case 12: return (double)(T)(x * (double)(T)P0) + (double)(T)P1;
        default: return NAN;
    }
}

// Operands with the special values every op must handle, ties and equal pairs.
template <class T> void operands(std::vector<T>& a, std::vector<T>& b) {
    const T specials[] = {T(0), T(-0.0), T(NAN), T(INFINITY), T(-INFINITY), T(1), T(-2), T(0.5), T(0.25), T(0.75)};
    size_t k = 0;
    for (T s : specials)
        for (T t : specials) {
            a[k] = s;
            b[k] = t;
            ++k;
        }
    for (size_t i = k; i < a.size(); i += 3) b[i] = a[i];  // equal pairs
}

template <class T> void test_binary_same() {
    const i64 n = 1000;
    auto a = randv<T>(n), b = randv<T>(n, true);
    operands(a, b);
    for (int op = 0; op <= BINARY_OPS; ++op) {  // BINARY_OPS itself is no op: NaN
        for (unsigned grid : {elementwise_grid(n), SHORT_GRID}) {
            std::vector<T> out(n, T(-7));
            run(grid, KERNEL(T, binary_same), n, op, P0, P1, (const T*)a.data(), (const T*)b.data(), out.data());
            for (i64 i = 0; i < n; ++i) {
                bool approx;
                const double want = ref_binary(op, a[i], b[i], &approx);
                CHECK(tag<T>("binary_same op " + std::to_string(op)), out[i], want, approx ? approx_tol<T>() : 0);
            }
        }
    }
}

template <class T> void test_binary_bcast() {
    // out [4, 30, 10] = op(a, b) for a [4, 30, 10] or [4, 1, 10] and b [30, 1].
    const i64 d0 = 4, d1 = 30, d2 = 10, n = d0 * d1 * d2;
    auto full = randv<T>(n), part = randv<T>(d0 * d2), b = randv<T>(d1, true);
    full[7] = NAN;
    b[2] = T(INFINITY);
    struct Layout {
        const char* name;
        const std::vector<T>* a;
        std::vector<i64> s0;
    };
    for (const Layout& l : {Layout{"a full", &full, {d1 * d2, d2, 1}}, Layout{"a [4,1,10]", &part, {d2, 0, 1}}}) {
        const Strided m = padded({d0, d1, d2}, l.s0, {0, 1, 0});
        const i64 na = (i64)l.a->size();
        for (int op = 0; op < BINARY_OPS; ++op) {
            for (unsigned grid : {elementwise_grid(n), SHORT_GRID}) {
                std::vector<T> out(n, T(-7));
                run(grid, KERNEL(T, binary_bcast), n, m, op, P0, P1, l.a->data(), na, (const T*)b.data(), d1, out.data());
                for (i64 i = 0; i < d0; ++i)
                    for (i64 j = 0; j < d1; ++j)
                        for (i64 k = 0; k < d2; ++k) {
                            const T av = (*l.a)[i * l.s0[0] + j * l.s0[1] + k * l.s0[2]];
                            bool approx;
                            const double want = ref_binary(op, av, b[j], &approx);
                            CHECK(tag<T>(std::string("binary_bcast ") + l.name + " op " + std::to_string(op)),
                                  out[(i * d1 + j) * d2 + k], want, approx ? approx_tol<T>() : 0);
                        }
            }
        }
    }
    // Offsets past an operand's end (impossible for valid metadata) give NaN, not a read.
    const Strided m = padded({d0, d1, d2}, {d1 * d2, d2, 1}, {0, 1, 0});
    std::vector<T> out(n, T(-7));
    run(elementwise_grid(n), KERNEL(T, binary_bcast), n, m, 0, P0, P1, (const T*)full.data(), n, (const T*)b.data(), d1 - 1, out.data());
    for (i64 i = 0; i < n; ++i) {
        const i64 j = (i / d2) % d1;
        CHECK(tag<T>("binary_bcast guard"), out[i], j == d1 - 1 ? NAN : (double)(T)((double)full[i] + b[j]), 0);
    }
}

template <class T> void test_unary() {
    const i64 n = 1000;
    auto x = randv<T>(n), unused = randv<T>(n);
    operands(x, unused);
    for (int op = 0; op <= UNARY_OPS; ++op) {  // UNARY_OPS itself is no op: NaN
        for (unsigned grid : {elementwise_grid(n), SHORT_GRID}) {
            std::vector<T> out(n, T(-7));
            run(grid, KERNEL(T, unary), n, op, P0, P1, (const T*)x.data(), out.data());
            for (i64 i = 0; i < n; ++i) {
                bool approx;
                const double want = ref_unary(op, x[i], &approx);
                CHECK(tag<T>("unary op " + std::to_string(op)), out[i], want, approx ? approx_tol<T>() : 0);
            }
        }
    }
}

template <class T> void test_elementwise() {
    test_binary_same<T>();
    test_binary_bcast<T>();
    test_unary<T>();
}
