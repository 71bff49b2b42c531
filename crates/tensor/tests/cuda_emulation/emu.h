// CPU emulation of the CUDA features our kernels use: one OS thread per CUDA thread, blocks
// run one after another (so function-static "shared" memory is per block), barriers for
// __syncthreads and warp shuffles.
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>
#include <algorithm>
using std::min;
struct dim3 { unsigned x = 0, y = 0, z = 0; };
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<>* block_barrier;
std::barrier<>* warp_barriers[32];
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
inline void __syncthreads() { block_barrier->arrive_and_wait(); }
static uint64_t shfl_slots[32][32];
template <class T> T __shfl_down_sync(unsigned, T v, int off) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    std::memcpy(&shfl_slots[w][lane], &v, sizeof(T));
    warp_barriers[w]->arrive_and_wait();
    T r = v;
    if (lane + off < 32) std::memcpy(&r, &shfl_slots[w][lane + off], sizeof(T));
    warp_barriers[w]->arrive_and_wait();
    return r;
}
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline double __longlong_as_double(long long i) { double f; std::memcpy(&f, &i, 8); return f; }
inline float __double2float_rn(double d) { return (float)d; }
inline unsigned atomicOr(unsigned* p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }

template <class F> void launch(unsigned grid, unsigned block, F f) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; ++b) {
        std::barrier<> bar(block);
        block_barrier = &bar;
        std::vector<std::barrier<>*> ws;
        for (unsigned w = 0; w < block / 32; ++w) { warp_barriers[w] = new std::barrier<>(32); }
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < block; ++t)
            ts.emplace_back([=] { threadIdx = {t, 0, 0}; blockIdx = {b, 0, 0}; f(); });
        for (auto& t : ts) t.join();
        for (unsigned w = 0; w < block / 32; ++w) delete warp_barriers[w];
    }
}
