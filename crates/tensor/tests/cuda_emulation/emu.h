// CPU emulation of the CUDA features our kernels use, so that the `.cu` sources compile as
// C++20 and run on the CPU (see ../cuda_emulation.rs, which drives this).
//
// A launch of `grid` blocks of `block` threads runs the blocks one after another; the
// threads of a block are fibers on the calling thread (started with makecontext, switched
// with _setjmp/_longjmp, which unlike swapcontext make no system call). Between two barriers
// the fibers run one at a time in a new pseudo-random order each round, as any order is
// possible on the GPU, so a kernel that reads another thread's write without a barrier in
// between is caught on some runs of the harness. `__syncthreads` is a barrier over the
// block's fibers; a warp shuffle writes the lane's value to a slot, waits at a barrier of
// the 32 fibers of the warp, reads its neighbour's slot and waits again. A barrier that
// some fiber never reaches (divergent `__syncthreads`) aborts with a message instead of
// hanging. A function-static variable (what `__shared__` becomes) is private to the block
// being run, as shared memory is on the GPU, and no block can see another's work. The
// device maths functions are the host's <cmath> ones.
// _longjmp onto a fiber's stack is what the fortified longjmp check rejects.
#undef _FORTIFY_SOURCE
#include <algorithm>
#include <csetjmp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>
#include <ucontext.h>
using std::min;

struct dim3 {
    unsigned x = 0, y = 0, z = 0;
};
// Set by the scheduler before it resumes a fiber.
dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

namespace emu {
constexpr unsigned WARP = 32;
constexpr unsigned MAX_WARPS = 32;
constexpr size_t STACK_BYTES = 256 * 1024;

struct Fiber {
    ucontext_t start;  // the entry, on this fiber's stack
    jmp_buf resume;    // where it yielded
    std::vector<char> stack;
    bool started = false, done = false;
};

jmp_buf scheduler;
Fiber* current = nullptr;
const std::function<void()>* kernel = nullptr;
// Barrier releases and finished fibers: a round of the scheduler without any is a deadlock.
unsigned long progress = 0;

// Back to the scheduler; returns when the scheduler resumes this fiber.
inline void yield() {
    if (_setjmp(current->resume) == 0) _longjmp(scheduler, 1);
}

// A barrier of `expected` fibers; reusable, as the generation counts its releases.
struct Barrier {
    unsigned expected = 0, arrived = 0;
    unsigned long generation = 0;
    void arrive_and_wait() {
        const unsigned long gen = generation;
        if (++arrived == expected) {
            arrived = 0;
            ++generation;
            ++progress;
            return;
        }
        while (generation == gen) yield();
    }
};

Barrier block_barrier;
Barrier warp_barriers[MAX_WARPS];
uint64_t shuffle_slots[MAX_WARPS][WARP];

[[noreturn]] inline void fiber_entry() {
    (*kernel)();
    current->done = true;
    ++progress;
    _longjmp(scheduler, 1);
}

// Runs `f` until it yields or finishes.
inline void resume(Fiber& f) {
    if (_setjmp(scheduler) != 0) return;
    current = &f;
    if (f.started) _longjmp(f.resume, 1);
    f.started = true;
    ucontext_t unused;  // never resumed: the fiber comes back through `scheduler`
    swapcontext(&unused, &f.start);
    std::abort();
}
}  // namespace emu

inline void __syncthreads() { emu::block_barrier.arrive_and_wait(); }

// v of lane (this lane + offset) of the same warp, or this lane's own v past the warp's end.
// Every lane of the warp must call it, as with the full mask on the GPU.
template <class T> T __shfl_down_sync(unsigned, T v, int offset) {
    static_assert(sizeof(T) <= sizeof(uint64_t));
    const unsigned lane = threadIdx.x % emu::WARP, warp = threadIdx.x / emu::WARP;
    std::memcpy(&emu::shuffle_slots[warp][lane], &v, sizeof(T));
    emu::warp_barriers[warp].arrive_and_wait();
    T r = v;
    if (lane + offset < emu::WARP) std::memcpy(&r, &emu::shuffle_slots[warp][lane + offset], sizeof(T));
    emu::warp_barriers[warp].arrive_and_wait();
    return r;
}

inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}
inline double __longlong_as_double(long long i) {
    double d;
    std::memcpy(&d, &i, sizeof d);
    return d;
}
inline float __double2float_rn(double d) { return static_cast<float>(d); }
inline unsigned atomicOr(unsigned* p, unsigned v) {
    const unsigned old = *p;
    *p = old | v;
    return old;
}

// Runs `kernel` (a call of one entry point) as a launch of `grid` blocks of `block`
// threads; `block` must be a multiple of 32, at most 1024.
inline void launch(unsigned grid, unsigned block, const std::function<void()>& kernel) {
    using namespace emu;
    static std::vector<Fiber> fibers(WARP * MAX_WARPS);
    static std::mt19937 order_gen(7);
    if (block == 0 || block % WARP != 0 || block > WARP * MAX_WARPS || grid == 0) {
        fprintf(stderr, "emu: bad launch of %u blocks of %u threads\n", grid, block);
        std::abort();
    }
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    emu::kernel = &kernel;
    std::vector<unsigned> order(block);
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx = {b, 0, 0};
        block_barrier = Barrier{block};
        for (unsigned w = 0; w < block / WARP; ++w) warp_barriers[w] = Barrier{WARP};
        for (unsigned t = 0; t < block; ++t) {
            Fiber& f = fibers[t];
            if (f.stack.empty()) f.stack.resize(STACK_BYTES);
            f.started = f.done = false;
            getcontext(&f.start);
            f.start.uc_stack.ss_sp = f.stack.data();
            f.start.uc_stack.ss_size = f.stack.size();
            f.start.uc_link = nullptr;
            makecontext(&f.start, fiber_entry, 0);
            order[t] = t;
        }
        unsigned remaining = block;
        while (remaining > 0) {
            const unsigned long before = progress;
            std::shuffle(order.begin(), order.end(), order_gen);
            for (unsigned t : order) {
                Fiber& f = fibers[t];
                if (f.done) continue;
                threadIdx = {t, 0, 0};
                resume(f);
                if (f.done) --remaining;
            }
            if (remaining > 0 && progress == before) {
                fprintf(stderr, "emu: deadlock in block %u of %u: %u threads wait at a barrier the others never reach\n", b, grid,
                        remaining);
                std::abort();
            }
        }
    }
}
