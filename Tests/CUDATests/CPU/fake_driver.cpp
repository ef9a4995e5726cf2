// A CPU emulation of the part of the CUDA driver API bpfree calls (libcuda.so.1), built by the
// tests into a library of that name with the kernels compiled as C++ (cuda_on_cpu.h) and a
// generated table of trampolines (`bpfree_kernel_table`): bpfree's host code — the driver
// calls, argument marshalling, launch geometry, copies and the allocator — runs unchanged
// against it, so CI checks everything a GPU run does except the card itself.
//
// Device memory is host memory (a CUdeviceptr holds the address); a module image is ignored and
// cuModuleGetFunction finds the kernel by name; cuLaunchKernel runs every (block, thread) pair
// in turn on the calling thread, as the kernels-on-CPU tests do. Graphs are lists of nodes run in
// the order they were added (bpfree chains each node after the one before); a stream being
// captured adds its launches, products and copies to its graph instead of running them.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unistd.h>
#include <vector>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
struct bpfree_kernel_entry { const char* name; void (*call)(void** params); int parameters; };
extern "C" const bpfree_kernel_entry bpfree_kernel_table[];
extern "C" const int bpfree_kernel_count;
extern "C" void bpfree_cpu_set_thread(unsigned block, unsigned thread, unsigned block_size, unsigned grid);

static int context_token, module_token, stream_token;
// What tests read back, and the graph being captured, are per thread: tests that train in their
// own process's emulator run side by side on threads of their own, each calling from one thread.
// Copies each way and waits on the stream so far, which tests read (`bpfree_fake_crossings`) to
// check that none of them grows with the batches of an epoch.
static thread_local long long copies_to_device = 0, copies_to_host = 0, waits = 0;
extern "C" void bpfree_fake_crossings(long long* counts) { counts[0] = copies_to_device; counts[1] = copies_to_host; counts[2] = waits; }
// Graphs launched and kernel nodes patched so far, which tests read.
static thread_local long long graph_launches = 0, patched_nodes = 0;
extern "C" void bpfree_fake_graphs(long long* counts) { counts[0] = graph_launches; counts[1] = patched_nodes; }

// A graph node: a kernel with its arguments (8 bytes each, as bpfree marshals them), a cuBLAS
// product, a device copy, a child graph, or other work captured (a cuDNN call, fake_cudnn.cpp).
struct Graph;
struct Node {
    enum Kind { kernel, gemm, copy, child, captured } kind;
    const bpfree_kernel_entry* entry = nullptr;
    unsigned grid = 0, block = 0;
    std::vector<unsigned long long> arguments;
    int transa = 0, transb = 0, m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
    float alpha = 0, beta = 0;
    CUdeviceptr a = 0, b = 0, c = 0;
    size_t bytes = 0;
    Graph* graph = nullptr;
    std::function<void()> work;
};
struct Graph { std::vector<Node*> nodes; ~Graph() { for (Node* node : nodes) delete node; } };
// An executable graph: its own copies of the nodes, found by the graph's node handles.
struct Exec { std::vector<Node*> handles; std::vector<Node> nodes; };
static thread_local Graph* capturing = nullptr;

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
    *text = error == 2 ? "out of memory" : error == 500 ? "named symbol not found"
          : error == 801 ? "operation not supported" : "emulated error";
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
    return 0;
}
// Free and total memory: 1 GiB, or what BPFREE_FAKE_FREE_BYTES says is free.
CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    const char* limit = getenv("BPFREE_FAKE_FREE_BYTES");
    *total = size_t(1) << 30;
    *free = limit ? (size_t)strtoull(limit, nullptr, 10) : *total;
    return 0;
}
CUresult cuMemFree_v2(CUdeviceptr address) { free((void*)address); return 0; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr to, const void* from, size_t bytes) { memcpy((void*)to, from, bytes); copies_to_device += 1; return 0; }
CUresult cuMemcpyDtoH_v2(void* to, CUdeviceptr from, size_t bytes) { memcpy(to, (const void*)from, bytes); copies_to_host += 1; return 0; }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr to, CUdeviceptr from, size_t bytes, void*) {
    if (capturing) {
        Node* node = new Node{Node::copy};
        node->c = to; node->a = from; node->bytes = bytes;
        capturing->nodes.push_back(node);
        return 0;
    }
    memmove((void*)to, (const void*)from, bytes);
    return 0;
}
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
    if (capturing) {
        Node* node = new Node{Node::kernel};
        node->entry = entry; node->grid = gx; node->block = bx;
        for (int i = 0; i < entry->parameters; i++) node->arguments.push_back(*(unsigned long long*)params[i]);
        capturing->nodes.push_back(node);
        return 0;
    }
    for (unsigned block = 0; block < gx; block++) {
        for (unsigned thread = 0; thread < bx; thread++) {
            bpfree_cpu_set_thread(block, thread, bx, gx);
            entry->call(params);
        }
    }
    return 0;
}
CUresult cuStreamCreate(void** stream, unsigned) { *stream = &stream_token; return 0; }
CUresult cuStreamSynchronize(void*) { waits += 1; return 0; }
CUresult cuGraphCreate(Graph** graph, unsigned) { *graph = new Graph; return 0; }
CUresult cuGraphDestroy(Graph* graph) { delete graph; return 0; }
// Only relaxed capture (mode 2), as bpfree asks; a capture in progress cannot begin again.
CUresult cuStreamBeginCapture_v2(void*, int mode) {
    if (capturing || mode != 2) return 1;
    capturing = new Graph;
    return 0;
}
CUresult cuStreamEndCapture(void*, Graph** graph) {
    if (!capturing) return 1;
    *graph = capturing;
    capturing = nullptr;
    return 0;
}
// CUDA_KERNEL_NODE_PARAMS_v2.
struct KernelNodeParams {
    const void* func; unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
    void** kernelParams; void** extra; void* kern; void* ctx;
};
// The dependency must be the graph's last node (bpfree chains every node after the one before).
static bool chained(Graph* graph, Node* const* dependencies, size_t count) {
    if (graph->nodes.empty()) return count == 0;
    return count == 1 && dependencies[0] == graph->nodes.back();
}
static CUresult kernel_node(Node* node, const KernelNodeParams* params) {
    if (params->gridDimY != 1 || params->gridDimZ != 1 || params->blockDimY != 1 || params->blockDimZ != 1 || params->extra) return 1;
    node->entry = (const bpfree_kernel_entry*)params->func;
    node->grid = params->gridDimX; node->block = params->blockDimX;
    node->arguments.clear();
    for (int i = 0; i < node->entry->parameters; i++) node->arguments.push_back(*(unsigned long long*)params->kernelParams[i]);
    return 0;
}
CUresult cuGraphAddKernelNode_v2(Node** node, Graph* graph, Node* const* dependencies, size_t count, const KernelNodeParams* params) {
    if (!chained(graph, dependencies, count)) return 1;
    *node = new Node{Node::kernel};
    if (CUresult result = kernel_node(*node, params)) { delete *node; return result; }
    graph->nodes.push_back(*node);
    return 0;
}
// The child is copied, as the driver clones it.
CUresult cuGraphAddChildGraphNode(Node** node, Graph* graph, Node* const* dependencies, size_t count, Graph* child) {
    if (!chained(graph, dependencies, count)) return 1;
    *node = new Node{Node::child};
    (*node)->graph = new Graph;
    for (Node* inner : child->nodes) (*node)->graph->nodes.push_back(new Node(*inner));
    graph->nodes.push_back(*node);
    return 0;
}
// BPFREE_FAKE_NO_GRAPHS set: the driver refuses to instantiate (CUDA_ERROR_NOT_SUPPORTED).
CUresult cuGraphInstantiateWithFlags(Exec** exec, Graph* graph, unsigned long long) {
    if (getenv("BPFREE_FAKE_NO_GRAPHS")) return 801;
    *exec = new Exec;
    for (Node* node : graph->nodes) { (*exec)->handles.push_back(node); (*exec)->nodes.push_back(*node); }
    return 0;
}
CUresult cuGraphExecDestroy(Exec* exec) { delete exec; return 0; }
CUresult cuGraphExecKernelNodeSetParams_v2(Exec* exec, Node* handle, const KernelNodeParams* params) {
    for (size_t i = 0; i < exec->handles.size(); i++) {
        if (exec->handles[i] == handle && exec->nodes[i].kind == Node::kernel) { patched_nodes += 1; return kernel_node(&exec->nodes[i], params); }
    }
    return 1;
}
}

extern "C" int cublasSgemm_v2(void*, int, int, int, int, int, const float*, CUdeviceptr, int, CUdeviceptr, int, const float*, CUdeviceptr, int);
static void run(const Node& node) {
    switch (node.kind) {
    case Node::kernel: {
        std::vector<void*> params;
        for (const unsigned long long& argument : node.arguments) params.push_back((void*)&argument);
        cuLaunchKernel(node.entry, node.grid, 1, 1, node.block, 1, 1, 0, nullptr, params.data(), nullptr);
        break;
    }
    case Node::gemm:
        cublasSgemm_v2(nullptr, node.transa, node.transb, node.m, node.n, node.k, &node.alpha, node.a, node.lda, node.b, node.ldb,
                       &node.beta, node.c, node.ldc);
        break;
    case Node::copy: memmove((void*)node.c, (const void*)node.a, node.bytes); break;
    case Node::child: for (Node* inner : node.graph->nodes) run(*inner); break;
    case Node::captured: node.work(); break;
    }
}
// Adds `work` to the graph being captured and returns true, or returns false when nothing is
// being captured (the caller then runs it).
bool fake_capture(std::function<void()> work) {
    if (!capturing) return false;
    Node* node = new Node{Node::captured};
    node->work = std::move(work);
    capturing->nodes.push_back(node);
    return true;
}

// Events hold the host clock when recorded: the emulator runs everything as it is queued.
struct Event { double seconds = 0; };
extern "C" {
CUresult cuEventCreate(Event** event, unsigned) { *event = new Event; return 0; }
CUresult cuEventDestroy_v2(Event* event) { delete event; return 0; }
CUresult cuEventRecord(Event* event, void*) {
    if (capturing) return 1;
    event->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return 0;
}
CUresult cuEventSynchronize(Event*) { return 0; }
CUresult cuEventElapsedTime(float* milliseconds, Event* start, Event* end) {
    *milliseconds = float((end->seconds - start->seconds) * 1000);
    return 0;
}
}

extern "C" CUresult cuGraphLaunch(Exec* exec, void*) {
    if (capturing) return 1;
    for (const Node& node : exec->nodes) run(node);
    graph_launches += 1;
    return 0;
}

// cuBLAS's part bpfree calls (libcublas.so.13), emulated with OpenBLAS's column-major sgemm.
#include <cblas.h>
static int cublas_token;
extern "C" {
int cublasCreate_v2(void** handle) { *handle = &cublas_token; return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasSetMathMode(void*, int mode) { return mode == 0 || mode == 3 ? 0 : 7; }
int cublasSetWorkspace_v2(void*, void* workspace, size_t bytes) { return workspace && bytes > 0 ? 0 : 7; }
int cublasSgemm_v2(void*, int transa, int transb, int m, int n, int k, const float* alpha, CUdeviceptr a, int lda,
                   CUdeviceptr b, int ldb, const float* beta, CUdeviceptr c, int ldc) {
    if (m < 0 || n < 0 || k < 0) return 7;
    if (capturing) {
        Node* node = new Node{Node::gemm};
        node->transa = transa; node->transb = transb; node->m = m; node->n = n; node->k = k; node->alpha = *alpha;
        node->a = a; node->lda = lda; node->b = b; node->ldb = ldb; node->beta = *beta; node->c = c; node->ldc = ldc;
        capturing->nodes.push_back(node);
        return 0;
    }
    cblas_sgemm(CblasColMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k, *alpha,
                (const float*)a, lda, (const float*)b, ldb, *beta, (float*)c, ldc);
    return 0;
}
}
