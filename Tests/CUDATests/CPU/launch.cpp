// The CPU launcher of the kernels under test: sets the thread's coordinates before each call.
#include "cuda_on_cpu.h"

thread_local bpfree_dim3 threadIdx, blockIdx, blockDim, gridDim;

extern "C" void bpfree_cpu_set_thread(unsigned block, unsigned thread, unsigned block_size, unsigned grid) {
    blockIdx = {block, 0, 0};
    threadIdx = {thread, 0, 0};
    blockDim = {block_size, 1, 1};
    gridDim = {grid, 1, 1};
}
