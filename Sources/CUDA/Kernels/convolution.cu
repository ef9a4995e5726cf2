// The convolutional network's kernels (TensorCore's ConvolutionKernel, NeuralNetwork's
// MaxPool2D, BatchNorm2D and ChannelsLast on a device): maps are channels-last, N×H×W×C.
// Per-channel statistics sum in double, one thread per channel, as the CPU does.

// cols[(n, oy, ox), (ky, kx, c)] = x[n, oy·s − p + ky, ox·s − p + kx, c], 0 outside the map
extern "C" __global__ void im2col(const float* x, float* cols, int n, int h, int w, int c, int k, int stride, int padding,
                                  int ho, int wo) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long width = (long long)k * k * c;
    if (i >= (long long)n * ho * wo * width) return;
    long long row = i / width, column = i % width;
    int channel = (int)(column % c), kx = (int)(column / c % k), ky = (int)(column / c / k);
    int ox = (int)(row % wo), oy = (int)(row / wo % ho), image = (int)(row / wo / ho);
    int y = oy * stride - padding + ky, xx = ox * stride - padding + kx;
    cols[i] = (y >= 0 && y < h && xx >= 0 && xx < w) ? x[(((long long)image * h + y) * w + xx) * c + channel] : 0.0f;
}

// dx[n, y, x, c] = Σ over the (ky, kx) whose window covers (y, x): dcols[(n, oy, ox), (ky, kx, c)]
extern "C" __global__ void col2im(const float* dcols, float* dx, int n, int h, int w, int c, int k, int stride, int padding,
                                  int ho, int wo) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)n * h * w * c) return;
    int channel = (int)(i % c), xx = (int)(i / c % w), y = (int)(i / c / w % h), image = (int)(i / c / w / h);
    long long width = (long long)k * k * c;
    float sum = 0.0f;
    for (int ky = 0; ky < k; ky++) {
        int oyStride = y + padding - ky;
        if (oyStride < 0 || oyStride % stride != 0 || oyStride / stride >= ho) continue;
        for (int kx = 0; kx < k; kx++) {
            int oxStride = xx + padding - kx;
            if (oxStride < 0 || oxStride % stride != 0 || oxStride / stride >= wo) continue;
            long long row = ((long long)image * ho + oyStride / stride) * wo + oxStride / stride;
            sum += dcols[row * width + ((long long)ky * k + kx) * c + channel];
        }
    }
    dx[i] = sum;
}

// 2×2 max pooling, stride 2, floor mode; codes (when not null) keep the winner 0–3 in row-major
// window order, the first maximum winning (as PyTorch).
extern "C" __global__ void max_pool_forward(const float* x, float* y, float* codes, int n, int h, int w, int c) {
    int ho = h / 2, wo = w / 2;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)n * ho * wo * c) return;
    int channel = (int)(i % c), ox = (int)(i / c % wo), oy = (int)(i / c / wo % ho), image = (int)(i / c / wo / ho);
    const float* a = x + (((long long)image * h + 2 * oy) * w + 2 * ox) * c + channel;
    float candidates[4] = {a[0], a[c], a[(long long)w * c], a[(long long)w * c + c]};
    float best = candidates[0];
    int winner = 0;
    for (int j = 1; j < 4; j++) if (candidates[j] > best) { best = candidates[j]; winner = j; }
    y[i] = best;
    if (codes) codes[i] = (float)winner;
}

// dx = g at each window's winner, 0 elsewhere (and where no window covers)
extern "C" __global__ void max_pool_backward(const float* g, const float* codes, float* dx, int n, int h, int w, int c) {
    int ho = h / 2, wo = w / 2;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)n * h * w * c) return;
    int channel = (int)(i % c), xx = (int)(i / c % w), y = (int)(i / c / w % h), image = (int)(i / c / w / h);
    int oy = y / 2, ox = xx / 2;
    float value = 0.0f;
    if (oy < ho && ox < wo) {
        long long out = (((long long)image * ho + oy) * wo + ox) * c + channel;
        if ((int)codes[out] == (y % 2) * 2 + xx % 2) value = g[out];
    }
    dx[i] = value;
}

// y[n, y, x, c] = x[n, c, y, x]   (channels-first rows to channels-last maps)
extern "C" __global__ void channels_last(const float* x, float* y, int n, int c, int h, int w) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)n * c * h * w) return;
    int channel = (int)(i % c), xx = (int)(i / c % w), yy = (int)(i / c / w % h), image = (int)(i / c / w / h);
    y[i] = x[(((long long)image * c + channel) * h + yy) * w + xx];
}

// dx[n, c, y, x] = g[n, y, x, c]
extern "C" __global__ void channels_first(const float* g, float* dx, int n, int c, int h, int w) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)n * c * h * w) return;
    int xx = (int)(i % w), yy = (int)(i / w % h), channel = (int)(i / w / h % c), image = (int)(i / w / h / c);
    dx[i] = g[(((long long)image * h + yy) * w + xx) * c + channel];
}

// Mean and biased variance of one channel over m rows, summed in double as the CPU does.
__device__ void bpfree_channel_moments(const float* x, int m, int c, int channel, double* mean, double* variance) {
    double sum = 0.0, squares = 0.0;
    for (long long r = 0; r < m; r++) {
        double u = (double)x[r * c + channel];
        sum += u;
        squares += u * u;
    }
    *mean = sum / (double)m;
    *variance = squares / (double)m - *mean * *mean;
    if (*variance < 0.0) *variance = 0.0;
}

// Training statistics of each channel over m rows (in double): mean, 1/√(var + ε), and the
// running statistics blended in (the variance unbiased by m/(m − 1)).
extern "C" __global__ void batch_norm_statistics(const float* x, int m, int c, float epsilon, float momentum, float* mean,
                                                 float* inverse, float* runningMean, float* runningVariance) {
    int channel = blockIdx.x * blockDim.x + threadIdx.x;
    if (channel >= c) return;
    double mu, variance;
    bpfree_channel_moments(x, m, c, channel, &mu, &variance);
    double unbiased = m > 1 ? (double)m / (double)(m - 1) : 1.0;
    mean[channel] = (float)mu;
    inverse[channel] = 1.0f / sqrtf((float)variance + epsilon);
    runningMean[channel] = (1.0f - momentum) * runningMean[channel] + momentum * (float)mu;
    runningVariance[channel] = (1.0f - momentum) * runningVariance[channel] + momentum * (float)(variance * unbiased);
}

// Inference: mean = running mean, inverse = 1/√(running variance + ε)
extern "C" __global__ void batch_norm_inference(const float* runningMean, const float* runningVariance, int c, float epsilon,
                                                float* mean, float* inverse) {
    int channel = blockIdx.x * blockDim.x + threadIdx.x;
    if (channel >= c) return;
    mean[channel] = runningMean[channel];
    inverse[channel] = 1.0f / sqrtf(runningVariance[channel] + epsilon);
}

// x̂ = (x − mean)·inverse (kept in hats when not null); y = γ·x̂ + β
extern "C" __global__ void batch_norm_forward(const float* x, const float* mean, const float* inverse, const float* gamma,
                                              const float* beta, float* y, float* hats, long long total, int c) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int channel = (int)(i % c);
    float hat = (x[i] - mean[channel]) * inverse[channel];
    if (hats) hats[i] = hat;
    y[i] = gamma[channel] * hat + beta[channel];
}

// Per channel (in double): Σg and Σg·x̂; their means out, and dγ += Σg·x̂, dβ += Σg when given.
extern "C" __global__ void batch_norm_backward_sums(const float* g, const float* hats, int m, int c, float* meanG,
                                                    float* meanGHat, float* dgamma, float* dbeta) {
    int channel = blockIdx.x * blockDim.x + threadIdx.x;
    if (channel >= c) return;
    double sumG = 0.0, sumGHat = 0.0;
    for (long long r = 0; r < m; r++) {
        double u = (double)g[r * c + channel];
        sumG += u;
        sumGHat += u * (double)hats[r * c + channel];
    }
    meanG[channel] = (float)(sumG / (double)m);
    meanGHat[channel] = (float)(sumGHat / (double)m);
    if (dgamma) {
        dgamma[channel] += (float)sumGHat;
        dbeta[channel] += (float)sumG;
    }
}

// dx = γ·inverse·(g − mean(g) − x̂·mean(g·x̂))
extern "C" __global__ void batch_norm_backward(const float* g, const float* hats, const float* gamma, const float* inverse,
                                               const float* meanG, const float* meanGHat, float* dx, long long total, int c) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int channel = (int)(i % c);
    dx[i] = gamma[channel] * inverse[channel] * (g[i] - meanG[channel] - hats[i] * meanGHat[channel]);
}

// Mean and (biased) variance of each channel over m rows, in double (CaFo's BatchNorm from the
// statistics of all training features).
extern "C" __global__ void channel_moments(const float* x, int m, int c, float* mean, float* variance) {
    int channel = blockIdx.x * blockDim.x + threadIdx.x;
    if (channel >= c) return;
    double mu, v;
    bpfree_channel_moments(x, m, c, channel, &mu, &v);
    mean[channel] = (float)mu;
    variance[channel] = (float)v;
}
