// The fused optimizer steps (NeuralNetwork's Adam and SGD): w, g and the moments are read once
// and written once per parameter; the gradient is zeroed for the next accumulation.

// Adam (l2 > 0: L2 decay in the gradient) or AdamW (shrink < 1: decoupled decay), PyTorch's update:
// m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²; w ← w − stepSize·m/(√v/correction2 + ε).
extern "C" __global__ void adam_step(float* w, float* g, float* m, float* v, long long n, float b1, float b2, float eps,
                                     float stepSize, float correction2, float l2, float shrink) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float wi = w[i] * shrink;
    float gi = g[i] + l2 * wi;
    float mi = m[i] + (1.0f - b1) * (gi - m[i]);
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - stepSize * (mi / (sqrtf(vi) / correction2 + eps));
    g[i] = 0.0f;
}

// SGD (PyTorch): g' = g + λw; b ← keep·b + add·g' (keep 0, add 1 on the first step, else μ and
// 1 − dampening); w ← w − lr·(nesterov ? g' + μ·b : b). Without momentum b is null and w ← w − lr·g'.
extern "C" __global__ void sgd_step(float* w, float* g, float* b, long long n, float lr, float momentum, float decay,
                                    float keep, float add, int nesterov) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i] + decay * w[i];
    if (b) {
        float bi = keep * b[i] + add * gi;
        b[i] = bi;
        w[i] -= lr * (nesterov ? gi + momentum * bi : bi);
    } else {
        w[i] -= lr * gi;
    }
    g[i] = 0.0f;
}
