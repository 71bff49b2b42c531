// What every family's emulation test shares: launching an entry point (and recording that
// it was launched), the production launch configurations, test data and comparisons.
// Included after all_kernels.h (the kernels, with BLOCK and MAX_RANK from common.cuh).
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <type_traits>

// Every entry point launched at least once, as "<base>_f32" / "<base>_f64"; printed at the
// end so that the Rust driver can compare it with the entry points of the `.cu` sources.
static std::set<std::string> launched;
static int failures = 0;
static int checks = 0;

template <class T> constexpr const char* suffix() { return std::is_same_v<T, float> ? "_f32" : "_f64"; }
template <class T> constexpr const char* type_name() { return std::is_same_v<T, float> ? "f32" : "f64"; }

// The `T` version of an entry point given both, recording its name.
template <class T, class F32, class F64> auto entry(const char* base, F32 f32, F64 f64) {
    launched.insert(std::string(base) + suffix<T>());
    if constexpr (std::is_same_v<T, float>) {
        return f32;
    } else {
        return f64;
    }
}
#define KERNEL(T, base) entry<T>(#base, &base##_f32, &base##_f64)

// Launches `kernel(args...)` as `grid` blocks of BLOCK threads, the only block size the
// backend uses.
template <class K, class... A> void run(unsigned grid, K kernel, A... args) {
    launch(grid, BLOCK, [&] { kernel(args...); });
}

// The backend's launch configurations (cuda/launch.rs): one thread per element, or one
// block per row, at most 2^16 blocks.
constexpr i64 MAX_BLOCKS = i64(1) << 16;
inline unsigned elementwise_grid(i64 n) { return (unsigned)std::clamp<i64>((n + BLOCK - 1) / BLOCK, 1, MAX_BLOCKS); }
inline unsigned rows_grid(i64 rows) { return (unsigned)std::clamp<i64>(rows, 1, MAX_BLOCKS); }
// A grid of two blocks: with more work than 2 * BLOCK threads (or than two rows) each
// thread or block loops, so the kernel must not depend on one thread or block per item.
constexpr unsigned SHORT_GRID = 2;

// ---- data ---------------------------------------------------------------------------------

static std::mt19937_64 gen(42);

// n normal values (or integers in -3..3, for ties), rounded to T.
template <class T> std::vector<T> randv(size_t n, bool ints = false) {
    std::normal_distribution<double> d(0, 1);
    std::uniform_int_distribution<int> u(-3, 3);
    std::vector<T> v(n);
    for (auto& x : v) x = (T)(ints ? u(gen) : d(gen));
    return v;
}

template <class T> constexpr double eps() { return (double)std::numeric_limits<T>::epsilon(); }
// Tolerance for results accumulated in double and rounded to T once.
template <class T> constexpr double accum_tol() { return std::is_same_v<T, float> ? 2 * eps<float>() : 1e-12; }
// Tolerance for a few roundings in T (exp, log, pow, a product of rounded factors).
template <class T> constexpr double approx_tol() { return 8 * eps<T>(); }

// |got - want| <= tol * (1 + |want|), or both NaN, or both the same infinity.
inline bool close(double got, double want, double tol) {
    if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
    if (std::isinf(want) || std::isinf(got)) return got == want;
    return std::fabs(got - want) <= tol * (1 + std::fabs(want));
}

inline void report(const std::string& what, double got, double want) {
    if (failures < 40) printf("FAIL %s: got %.17g want %.17g\n", what.c_str(), got, want);
    ++failures;
}

// Counts one comparison and reports it when `got` and `want` are not close; `what` (a
// std::string expression naming the value) is only evaluated then.
#define CHECK(what, got, want, tol)                       \
    do {                                                  \
        ++checks;                                         \
        const double got_ = (got), want_ = (want);        \
        if (!close(got_, want_, (tol))) report((what), got_, want_); \
    } while (0)

template <class T> std::string tag(const std::string& what) { return what + " " + type_name<T>(); }

// CHECK for each element of two equally long vectors.
template <class G, class W> void check_all(const std::string& what, const G& got, const W& want, double tol) {
    if (got.size() != want.size()) {
        CHECK(what + " (length)", (double)got.size(), (double)want.size(), 0);
        return;
    }
    for (size_t i = 0; i < got.size(); ++i) {
        ++checks;
        if (!close(got[i], want[i], tol)) report(what + " [" + std::to_string(i) + "]", got[i], want[i]);
    }
}

// A Strided (common.cuh) for a row-major index space of `shape`, operand strides s0 and s1
// (s1 empty: none), padded on the left to MAX_RANK dims.
inline Strided padded(std::vector<i64> shape, std::vector<i64> s0, std::vector<i64> s1) {
    Strided m;
    const size_t off = MAX_RANK - shape.size();
    for (int d = 0; d < MAX_RANK; ++d) {
        m.shape[d] = 1;
        m.s0[d] = 0;
        m.s1[d] = 0;
    }
    for (size_t d = 0; d < shape.size(); ++d) {
        m.shape[off + d] = shape[d];
        m.s0[off + d] = s0[d];
        m.s1[off + d] = s1.empty() ? 0 : s1[d];
    }
    return m;
}
