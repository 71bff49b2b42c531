// Runs every entry point of every CUDA kernel family on the CPU (emu.h) in f32 and f64,
// with the backend's block size and grids of several blocks, against direct references.
// Built and run by ../cuda_emulation.rs (`cargo test -p tensor --test cuda_emulation`),
// which writes all_kernels.h: emu.h, common.cuh, then every `.cu` file of the crate.
//
// Output: one "FAIL ..." line per mismatch (the first 40), a summary, and one
// "launched <entry>" line per entry point launched; the exit status is 1 on any mismatch.
#include "all_kernels.h"
#include "harness.h"
#include "test_conv.h"
#include "test_elementwise.h"
#include "test_layout.h"
#include "test_loss.h"
#include "test_memory_update.h"
#include "test_norm.h"
#include "test_reduce.h"

#include <chrono>

// Runs one part and prints its running failure count and time.
template <class F> void part(const char* name, F f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%-16s %d failures so far (%.2f s)\n", name, failures, secs);
}

template <class T> void test_all() {
    const std::string t = type_name<T>();
    part((t + " elementwise").c_str(), test_elementwise<T>);
    part((t + " update").c_str(), test_update<T>);
    part((t + " reduce").c_str(), test_reduce<T>);
    part((t + " layout").c_str(), test_layout<T>);
    part((t + " conv").c_str(), test_conv<T>);
    part((t + " loss").c_str(), test_loss<T>);
    part((t + " norm").c_str(), test_norm<T>);
}

int main() {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    part("cast", test_cast);
    test_all<float>();
    test_all<double>();
    printf("%d checks, %d failures, %zu entry points launched\n", checks, failures, launched.size());
    for (const auto& name : launched) printf("launched %s\n", name.c_str());
    return failures != 0;
}
