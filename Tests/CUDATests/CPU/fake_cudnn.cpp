// A CPU emulation of the part of cuDNN 9 bpfree calls (libcudnn.so.9, the same library as the
// emulated driver): descriptors, the algorithm search and the three convolution passes, each a
// direct convolution accumulated in double over NHWC maps and KRSC filters. It is strict where
// bpfree's host code could go wrong: layouts, data type, cross-correlation, operand shapes that
// agree, a workspace as large as the algorithm needs, and only the algorithms it offered.
//
// The search offers, per pass, a fast algorithm that is not deterministic (bpfree must skip it)
// and deterministic ones needing some workspace; it runs the pass once, as cuDNN's does. The
// heuristics (`_v7`) rank the same algorithms, another first for the forward pass, and run nothing. With
// BPFREE_FAKE_CUDNN_REFUSE set both refuse every shape, as cuDNN does one it does not support.
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <vector>

typedef unsigned long long CUdeviceptr;
bool fake_capture(std::function<void()> work);

namespace {
struct Tensor4d { int format = -1, type = -1, n = 0, c = 0, h = 0, w = 0; };
struct Convolution { int pad = -1, stride = 0, mode = -1, type = -1, math = 0; };
struct Performance { int algo, status; float time; size_t memory; int determinism, math, reserved[3]; };
// cudnnStatus_t values.
enum { success = 0, alloc_failed = 2, bad_param = 3, not_supported = 9 };
enum Pass { forward, backward_data, backward_filter };
struct Offer { int algo; int deterministic; size_t memory; };
const std::vector<Offer> offers[3] = {
    {{1, 1, 4096}, {0, 1, 0}},                  // IMPLICIT_PRECOMP_GEMM, IMPLICIT_GEMM
    {{0, 0, 0}, {1, 1, 8192}},                  // ALGO_0 (atomics), ALGO_1
    {{0, 0, 0}, {3, 0, 0}, {1, 1, 16384}},      // ALGO_0, ALGO_3 (atomics), ALGO_1
};
// What the heuristics rank first differs from what the search times fastest (forward: IMPLICIT_GEMM).
const std::vector<Offer> ranked[3] = {{{0, 1, 0}, {1, 1, 4096}}, offers[1], offers[2]};
thread_local long long convolutions_run = 0;   // per thread, as the driver's counts

bool agree(const Tensor4d* x, const Tensor4d* w, const Tensor4d* y, const Convolution* c) {
    if (!x || !w || !y || !c || x->format != 1 || y->format != 1 || w->format != 1 || x->type != 0 || y->type != 0 || w->type != 0) return false;
    if (c->mode != 1 || c->type != 0 || w->h != w->w) return false;
    int k = w->h;
    return x->n == y->n && x->c == w->c && y->c == w->n && y->h == (x->h + 2 * c->pad - k) / c->stride + 1
        && y->w == (x->w + 2 * c->pad - k) / c->stride + 1;
}

// One pass, written into its output operand as α·result + β·output.
void convolve(Pass pass, const Tensor4d* x, const Tensor4d* w, const Tensor4d* y, const Convolution* c, float alpha, float beta,
              float* xp, float* wp, float* yp) {
    int k = w->h, n = x->n, h = x->h, wd = x->w, ch = x->c, o = y->c, ho = y->h, wo = y->w;
    size_t outputs[3] = {size_t(n) * ho * wo * o, size_t(n) * h * wd * ch, size_t(o) * k * k * ch};
    std::vector<double> sums(outputs[pass], 0.0);
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++)
                for (int f = 0; f < o; f++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = oy * c->stride - c->pad + ky, ix = ox * c->stride - c->pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            size_t yi = ((size_t(b) * ho + oy) * wo + ox) * o + f;
                            for (int q = 0; q < ch; q++) {
                                size_t xi = ((size_t(b) * h + iy) * wd + ix) * ch + q, wi = ((size_t(f) * k + ky) * k + kx) * ch + q;
                                if (pass == forward) sums[yi] += double(xp[xi]) * wp[wi];
                                else if (pass == backward_data) sums[xi] += double(yp[yi]) * wp[wi];
                                else sums[wi] += double(xp[xi]) * yp[yi];
                            }
                        }
    float* out = pass == forward ? yp : pass == backward_data ? xp : wp;
    for (size_t i = 0; i < sums.size(); i++) out[i] = float(alpha * sums[i] + (beta == 0 ? 0.0 : double(beta) * out[i]));
    convolutions_run += 1;
}

int search(Pass pass, const Tensor4d* x, const Tensor4d* w, const Tensor4d* y, const Convolution* c, CUdeviceptr xp, CUdeviceptr wp,
           CUdeviceptr yp, int requested, int* returned, Performance* results, size_t workspace_bytes) {
    if (!agree(x, w, y, c) || requested < 1) return bad_param;
    if (getenv("BPFREE_FAKE_CUDNN_REFUSE")) return not_supported;   // a shape cuDNN does not support
    int count = 0;
    for (const Offer& offer : offers[pass]) {   // fastest first, as cuDNN sorts them
        if (count == requested) break;
        float time = 0.1f * float(count + 1);
        results[count] = Performance{offer.algo, offer.memory <= workspace_bytes ? success : alloc_failed, time, offer.memory,
                                     offer.deterministic, c->math, {0, 0, 0}};
        count += 1;
    }
    *returned = count;
    convolve(pass, x, w, y, c, 1, 0, (float*)xp, (float*)wp, (float*)yp);
    return success;
}

int rank(Pass pass, const Tensor4d* x, const Tensor4d* w, const Tensor4d* y, const Convolution* c, int requested, int* returned,
         Performance* results) {
    if (!agree(x, w, y, c) || requested < 1) return bad_param;
    if (getenv("BPFREE_FAKE_CUDNN_REFUSE")) return not_supported;
    int count = 0;
    for (const Offer& offer : ranked[pass]) {
        if (count == requested) break;
        results[count] = Performance{offer.algo, success, -1, offer.memory, offer.deterministic, c->math, {0, 0, 0}};
        count += 1;
    }
    *returned = count;
    return success;
}

int run(Pass pass, const float* alpha, const Tensor4d* x, CUdeviceptr xp, const Tensor4d* w, CUdeviceptr wp, const Tensor4d* y, CUdeviceptr yp,
        const Convolution* c, int algo, CUdeviceptr workspace, size_t workspace_bytes, const float* beta) {
    if (!agree(x, w, y, c)) return bad_param;
    const Offer* offer = nullptr;
    for (const Offer& candidate : offers[pass]) if (candidate.algo == algo) offer = &candidate;
    if (!offer || workspace_bytes < offer->memory || (offer->memory > 0 && workspace == 0)) return bad_param;
    float a = *alpha, b = *beta;
    auto work = [=] { convolve(pass, x, w, y, c, a, b, (float*)xp, (float*)wp, (float*)yp); };
    if (!fake_capture(work)) work();
    return success;
}
}

extern "C" {
// cuDNN convolutions run so far (tests read it).
long long bpfree_fake_cudnn_convolutions() { return convolutions_run; }

size_t cudnnGetVersion() { return 91002; }
const char* cudnnGetErrorString(int status) {
    return status == success ? "CUDNN_STATUS_SUCCESS" : status == bad_param ? "CUDNN_STATUS_BAD_PARAM"
         : status == alloc_failed ? "CUDNN_STATUS_ALLOC_FAILED" : status == not_supported ? "CUDNN_STATUS_NOT_SUPPORTED"
         : "CUDNN_STATUS_INTERNAL_ERROR";
}
static int handle_token;
int cudnnCreate(void** handle) { *handle = &handle_token; return success; }
int cudnnSetStream(void*, void*) { return success; }
int cudnnCreateTensorDescriptor(Tensor4d** d) { *d = new Tensor4d; return success; }
int cudnnCreateFilterDescriptor(Tensor4d** d) { *d = new Tensor4d; return success; }
int cudnnCreateConvolutionDescriptor(Convolution** d) { *d = new Convolution; return success; }
int cudnnSetTensor4dDescriptor(Tensor4d* d, int format, int type, int n, int c, int h, int w) {
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return bad_param;
    *d = Tensor4d{format, type, n, c, h, w};
    return success;
}
int cudnnSetFilter4dDescriptor(Tensor4d* d, int type, int format, int k, int c, int h, int w) {
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0) return bad_param;
    *d = Tensor4d{format, type, k, c, h, w};
    return success;
}
int cudnnSetConvolution2dDescriptor(Convolution* d, int pad_h, int pad_w, int u, int v, int dilation_h, int dilation_w, int mode, int type) {
    if (pad_h != pad_w || u != v || u <= 0 || pad_h < 0 || dilation_h != 1 || dilation_w != 1) return bad_param;
    d->pad = pad_h; d->stride = u; d->mode = mode; d->type = type;
    return success;
}
int cudnnSetConvolutionMathType(Convolution* d, int math) {
    if (math != 0 && math != 3) return bad_param;   // bpfree asks for FMA (FP32) or the default (TF32 allowed)
    d->math = math;
    return success;
}
int cudnnFindConvolutionForwardAlgorithmEx(void*, const Tensor4d* xd, CUdeviceptr x, const Tensor4d* wd, CUdeviceptr w, const Convolution* c,
                                           const Tensor4d* yd, CUdeviceptr y, int requested, int* returned, Performance* results,
                                           CUdeviceptr, size_t workspace_bytes) {
    return search(forward, xd, wd, yd, c, x, w, y, requested, returned, results, workspace_bytes);
}
int cudnnFindConvolutionBackwardDataAlgorithmEx(void*, const Tensor4d* wd, CUdeviceptr w, const Tensor4d* yd, CUdeviceptr y,
                                                const Convolution* c, const Tensor4d* xd, CUdeviceptr x, int requested, int* returned,
                                                Performance* results, CUdeviceptr, size_t workspace_bytes) {
    return search(backward_data, xd, wd, yd, c, x, w, y, requested, returned, results, workspace_bytes);
}
int cudnnFindConvolutionBackwardFilterAlgorithmEx(void*, const Tensor4d* xd, CUdeviceptr x, const Tensor4d* yd, CUdeviceptr y,
                                                  const Convolution* c, const Tensor4d* wd, CUdeviceptr w, int requested, int* returned,
                                                  Performance* results, CUdeviceptr, size_t workspace_bytes) {
    return search(backward_filter, xd, wd, yd, c, x, w, y, requested, returned, results, workspace_bytes);
}
int cudnnGetConvolutionForwardAlgorithm_v7(void*, const Tensor4d* xd, const Tensor4d* wd, const Convolution* c, const Tensor4d* yd,
                                           int requested, int* returned, Performance* results) {
    return rank(forward, xd, wd, yd, c, requested, returned, results);
}
int cudnnGetConvolutionBackwardDataAlgorithm_v7(void*, const Tensor4d* wd, const Tensor4d* yd, const Convolution* c, const Tensor4d* xd,
                                                int requested, int* returned, Performance* results) {
    return rank(backward_data, xd, wd, yd, c, requested, returned, results);
}
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void*, const Tensor4d* xd, const Tensor4d* yd, const Convolution* c, const Tensor4d* wd,
                                                  int requested, int* returned, Performance* results) {
    return rank(backward_filter, xd, wd, yd, c, requested, returned, results);
}
int cudnnConvolutionForward(void*, const float* alpha, const Tensor4d* xd, CUdeviceptr x, const Tensor4d* wd, CUdeviceptr w,
                            const Convolution* c, int algo, CUdeviceptr workspace, size_t workspace_bytes, const float* beta,
                            const Tensor4d* yd, CUdeviceptr y) {
    return run(forward, alpha, xd, x, wd, w, yd, y, c, algo, workspace, workspace_bytes, beta);
}
int cudnnConvolutionBackwardData(void*, const float* alpha, const Tensor4d* wd, CUdeviceptr w, const Tensor4d* yd, CUdeviceptr y,
                                 const Convolution* c, int algo, CUdeviceptr workspace, size_t workspace_bytes, const float* beta,
                                 const Tensor4d* xd, CUdeviceptr x) {
    return run(backward_data, alpha, xd, x, wd, w, yd, y, c, algo, workspace, workspace_bytes, beta);
}
int cudnnConvolutionBackwardFilter(void*, const float* alpha, const Tensor4d* xd, CUdeviceptr x, const Tensor4d* yd, CUdeviceptr y,
                                   const Convolution* c, int algo, CUdeviceptr workspace, size_t workspace_bytes, const float* beta,
                                   const Tensor4d* wd, CUdeviceptr w) {
    return run(backward_filter, alpha, xd, x, wd, w, yd, y, c, algo, workspace, workspace_bytes, beta);
}
}
