// Just enough of CUDA for the kernels of Sources/CUDA/Kernels to compile as plain C++ and run
// on the CPU, one thread at a time: a launch runs every (block, thread) pair in turn on the
// calling thread, so the atomics need no atomicity (tests launching side by side own their
// memory). Included before each kernel file (-include).
#pragma once
#include <math.h>

#define __global__
#define __device__

struct bpfree_dim3 { unsigned x, y, z; };
// Per thread: tests that launch kernels run side by side.
extern thread_local bpfree_dim3 threadIdx, blockIdx, blockDim, gridDim;

static inline double atomicAdd(double* address, double value) { double old = *address; *address += value; return old; }
static inline unsigned int atomicAdd(unsigned int* address, unsigned int value) { unsigned int old = *address; *address += value; return old; }
