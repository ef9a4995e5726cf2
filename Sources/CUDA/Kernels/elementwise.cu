// Elementwise and bias kernels (Tensor.add, BiasKernels, the activations), grid-stride free:
// one thread per scalar.

// y[i] += alpha·x[i]
extern "C" __global__ void add_scaled(const float* x, float* y, long long n, float alpha) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += alpha * x[i];
}

// y[i] += (s[0] / divisor)·x[i]: a factor computed on the device, never copied back.
extern "C" __global__ void add_scaled_by_scalar(const float* x, float* y, long long n, const float* s, float divisor) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    float alpha = s[0] / divisor;
    if (i < n) y[i] += alpha * x[i];
}

// out[0] = Σ x[i] in index order, by one thread: the host's order, so both give the same float.
extern "C" __global__ void sum_in_order(const float* x, long long n, float* out) {
    if (blockIdx.x * blockDim.x + threadIdx.x != 0) return;
    float sum = 0.0f;
    for (long long i = 0; i < n; i++) sum += x[i];
    out[0] = sum;
}

// y[i] = value
extern "C" __global__ void fill(float* y, long long n, float value) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = value;
}

// Y[r, :] += b   (Y N×d)
extern "C" __global__ void add_bias_rows(const float* b, float* y, int rows, int d) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (long long)rows * d) y[i] += b[i % d];
}

// db[j] += Σ_r G[r, j]   (one thread per column)
extern "C" __global__ void accumulate_column_sums(const float* g, float* db, int rows, int d) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    float sum = 0.0f;
    for (int r = 0; r < rows; r++) sum += g[(long long)r * d + j];
    db[j] += sum;
}

// y = max(x, 0)
extern "C" __global__ void relu_forward(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dx = g where y > 0, else 0
extern "C" __global__ void relu_backward(const float* y, const float* g, float* dx, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

// y = tanh(x)
extern "C" __global__ void tanh_forward(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = tanhf(x[i]);
}

// dx = g·(1 − y²)
extern "C" __global__ void tanh_backward(const float* y, const float* g, float* dx, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] = g[i] * (1.0f - y[i] * y[i]);
}

// y[i] *= alpha
extern "C" __global__ void scale(float* y, long long n, float alpha) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] *= alpha;
}

// y[i] *= x[i]
extern "C" __global__ void multiply(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] *= x[i];
}

// y[i] = a[i] − b[i]
extern "C" __global__ void difference(const float* a, const float* b, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a[i] - b[i];
}

// y[i] = scale·|m[i]|·sign(w[i]) (scale·sign(w[i]) when m is null), sign(0) = 0
extern "C" __global__ void assign_signs(const float* w, const float* m, float* y, long long n, float scale) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float sign = w[i] > 0.0f ? 1.0f : (w[i] < 0.0f ? -1.0f : 0.0f);
    y[i] = m ? scale * fabsf(m[i]) * sign : scale * sign;
}

// dots[r] = Σ_j a[r, j]·b[r, j]   (one thread per row)
extern "C" __global__ void row_dots(const float* a, const float* b, float* dots, int rows, int d) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float sum = 0.0f;
    for (int j = 0; j < d; j++) sum += a[(long long)r * d + j] * b[(long long)r * d + j];
    dots[r] = sum;
}

// y[r, j] *= factors[r]
extern "C" __global__ void scale_rows(const float* factors, float* y, int rows, int d) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (long long)rows * d) y[i] *= factors[i / d];
}
