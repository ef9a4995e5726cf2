// A CPU emulation of the part of the CUDA driver API bpfree calls (libcuda.so.1), built by the
// tests into a library of that name with the kernels compiled as C++ (cuda_on_cpu.h) and a
// generated table of trampolines (`bpfree_kernel_table`): bpfree's host code — the driver
// calls, argument marshalling, launch geometry, copies and the allocator — runs unchanged
// against it, so CI checks everything a GPU run does except the card itself.
//
// Device memory is host memory (a CUdeviceptr holds the address); a module image is ignored and
// cuModuleGetFunction finds the kernel by name; cuLaunchKernel runs every (block, thread) pair
// in turn on the calling thread, as the kernels-on-CPU tests do.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
struct bpfree_kernel_entry { const char* name; void (*call)(void** params); };
extern "C" const bpfree_kernel_entry bpfree_kernel_table[];
extern "C" const int bpfree_kernel_count;
extern "C" void bpfree_cpu_set_thread(unsigned block, unsigned thread, unsigned block_size, unsigned grid);

static int context_token, module_token, stream_token;
// How many device allocations are live and how many launches ran: what tests read back.
extern "C" { long long bpfree_fake_live_allocations = 0, bpfree_fake_launches = 0; }
// Copies each way and waits on the stream so far, which tests read (`bpfree_fake_crossings`) to
// check that none of them grows with the batches of an epoch.
static long long copies_to_device = 0, copies_to_host = 0, waits = 0;
extern "C" void bpfree_fake_crossings(long long* counts) { counts[0] = copies_to_device; counts[1] = copies_to_host; counts[2] = waits; }

extern "C" {
CUresult cuInit(unsigned) { return 0; }
CUresult cuDriverGetVersion(int* version) { *version = 13000; return 0; }
CUresult cuDeviceGetCount(int* count) { *count = 1; return 0; }
CUresult cuDeviceGet(int* device, int index) { if (index != 0) return 101; *device = 0; return 0; }
CUresult cuDeviceGetName(char* name, int length, int) { strncpy(name, "bpfree CPU emulator", length); return 0; }
CUresult cuDeviceGetAttribute(int* value, int attribute, int) {
    *value = attribute == 75 ? 9 : attribute == 76 ? 0 : attribute == 16 ? 2 : 0;
    return 0;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = size_t(1) << 30; return 0; }
CUresult cuGetErrorString(CUresult error, const char** text) {
    *text = error == 2 ? "out of memory" : error == 500 ? "named symbol not found" : "emulated error";
    return 0;
}
// A context made: its process id is appended to the file BPFREE_FAKE_CONTEXT_LOG names, if any
// (tests count the processes that hold the card).
CUresult cuDevicePrimaryCtxRetain(void** context, int) {
    if (const char* path = getenv("BPFREE_FAKE_CONTEXT_LOG")) {
        if (FILE* log = fopen(path, "a")) { fprintf(log, "%d\n", (int)getpid()); fclose(log); }
    }
    *context = &context_token;
    return 0;
}
CUresult cuCtxSetCurrent(void*) { return 0; }
CUresult cuCtxSynchronize() { return 0; }
CUresult cuMemAlloc_v2(CUdeviceptr* address, size_t bytes) {
    void* memory = malloc(bytes);
    if (!memory) return 2;
    *address = (CUdeviceptr)memory;
    bpfree_fake_live_allocations += 1;
    return 0;
}
// Free and total memory: 1 GiB, or what BPFREE_FAKE_FREE_BYTES says is free.
CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    const char* limit = getenv("BPFREE_FAKE_FREE_BYTES");
    *total = size_t(1) << 30;
    *free = limit ? (size_t)strtoull(limit, nullptr, 10) : *total;
    return 0;
}
CUresult cuMemFree_v2(CUdeviceptr address) { free((void*)address); bpfree_fake_live_allocations -= 1; return 0; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr to, const void* from, size_t bytes) { memcpy((void*)to, from, bytes); copies_to_device += 1; return 0; }
CUresult cuMemcpyDtoH_v2(void* to, CUdeviceptr from, size_t bytes) { memcpy(to, (const void*)from, bytes); copies_to_host += 1; return 0; }
CUresult cuMemcpyDtoD_v2(CUdeviceptr to, CUdeviceptr from, size_t bytes) { memmove((void*)to, (const void*)from, bytes); return 0; }
CUresult cuModuleLoadData(void** module, const void*) { *module = &module_token; return 0; }
CUresult cuModuleGetFunction(const void** function, void*, const char* name) {
    for (int i = 0; i < bpfree_kernel_count; i++) {
        if (strcmp(bpfree_kernel_table[i].name, name) == 0) { *function = &bpfree_kernel_table[i]; return 0; }
    }
    return 500;
}
CUresult cuLaunchKernel(const void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned, void*, void** params, void**) {
    if (gy != 1 || gz != 1 || by != 1 || bz != 1) return 1;   // bpfree's kernels are 1-D
    const bpfree_kernel_entry* entry = (const bpfree_kernel_entry*)function;
    for (unsigned block = 0; block < gx; block++) {
        for (unsigned thread = 0; thread < bx; thread++) {
            bpfree_cpu_set_thread(block, thread, bx, gx);
            entry->call(params);
        }
    }
    bpfree_fake_launches += 1;
    return 0;
}
CUresult cuStreamCreate(void** stream, unsigned) { *stream = &stream_token; return 0; }
CUresult cuStreamSynchronize(void*) { waits += 1; return 0; }
}

// cuBLAS's part bpfree calls (libcublas.so.13), emulated with OpenBLAS's column-major sgemm.
#include <cblas.h>
static int cublas_token;
extern "C" {
int cublasCreate_v2(void** handle) { *handle = &cublas_token; return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasSetMathMode(void*, int mode) { return mode == 0 || mode == 3 ? 0 : 7; }
int cublasSgemm_v2(void*, int transa, int transb, int m, int n, int k, const float* alpha, CUdeviceptr a, int lda,
                   CUdeviceptr b, int ldb, const float* beta, CUdeviceptr c, int ldc) {
    if (m < 0 || n < 0 || k < 0) return 7;
    cblas_sgemm(CblasColMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k, *alpha,
                (const float*)a, lda, (const float*)b, ldb, *beta, (float*)c, ldc);
    return 0;
}
}
