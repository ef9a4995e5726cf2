// Row and column primitives (TensorCore's Tensor+Rows.swift), one thread per row or per
// scalar. Row-major float matrices; `n` rows of `d` scalars. Row indices and class labels on
// the device are floats (exact below 2²⁴), so that they live in ordinary tensors. No includes:
// NVRTC has no default include path.

// out[r, :] = x[order[start + r], :]   (x N×d, order M, out R×d)
extern "C" __global__ void gather_rows(const float* x, const float* order, long long start, float* out, int rows, int d) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * d) return;
    long long r = i / d, j = i % d;
    out[i] = x[(long long)order[start + r] * d + j];
}

// out[start + r, :] += x[r, :]   (x R×d)
extern "C" __global__ void add_to_rows(const float* x, float* out, long long start, int rows, int d) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * d) return;
    out[start * d + i] += x[i];
}

// out[b·N + r, :] = x[r, :] for every block b < copies   (x N×d, out (copies·N)×d)
extern "C" __global__ void repeat_rows(const float* x, float* out, int rows, int d, int copies) {
    long long total = (long long)rows * d;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total * copies) return;
    out[i] = x[i % total];
}

// out[r, offset + j] = x[r, j]   (x N×k, out N×d)
extern "C" __global__ void set_columns(const float* x, float* out, int rows, int k, int d, int offset) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * k) return;
    long long r = i / k, j = i % k;
    out[r * d + offset + j] = x[i];
}

// out[r, 0..<c] = value·onehot(labels[r])   (out N×d)
extern "C" __global__ void set_leading_onehot(const float* labels, float* out, int rows, int d, int c, float value) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * c) return;
    long long r = i / c, j = i % c;
    out[r * d + j] = (j == (int)labels[r]) ? value : 0.0f;
}

// out[r, j] = value·[j = r / block_rows] for j < c: block b of block_rows rows holds label b   (out N×d)
extern "C" __global__ void set_block_onehot(float* out, int rows, int d, int c, int block_rows, float value) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * c) return;
    long long r = i / c, j = i % c;
    out[r * d + j] = (j == r / block_rows) ? value : 0.0f;
}

// out[r, 0..<c] = value   (out N×d)
extern "C" __global__ void fill_leading(float* out, int rows, int d, int c, float value) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * c) return;
    out[(i / c) * d + i % c] = value;
}

// out[start + r, j] += m[j, r]   (m C×R, out N×C)
extern "C" __global__ void add_transposed(const float* m, float* out, long long start, int c, int rows) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * c) return;
    long long r = i / c, j = i % c;
    out[(start + r) * c + j] += m[j * rows + r];
}

// *correct += rows whose first maximal score is at their label (NaN never wins over a number).
extern "C" __global__ void count_argmax_matches(const float* z, const float* labels, int rows, int c, unsigned int* correct) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = z + (long long)r * c;
    int best = 0;
    for (int j = 1; j < c; j++) if (row[j] > row[best] || row[best] != row[best]) best = j;
    if (best == (int)labels[r]) atomicAdd(correct, 1u);
}

// p[r, :] = softmax(z[r, :]), the row maximum subtracted first.
extern "C" __global__ void softmax_rows(const float* z, float* p, int rows, int c) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = z + (long long)r * c;
    float* out = p + (long long)r * c;
    float maximum = row[0];
    for (int j = 1; j < c; j++) maximum = fmaxf(maximum, row[j]);
    float sum = 0.0f;
    for (int j = 0; j < c; j++) { out[j] = expf(row[j] - maximum); sum += out[j]; }
    for (int j = 0; j < c; j++) out[j] /= sum;
}

// sums[r] = scale·Σ_j x[r, j]²
extern "C" __global__ void row_squared_sums(const float* x, float* sums, int rows, int d, float scale) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = x + (long long)r * d;
    float sum = 0.0f;
    for (int j = 0; j < d; j++) sum += row[j] * row[j];
    sums[r] = sum * scale;
}

// y[r, :] = x[r, :] / (‖x[r, :]‖ + ε); rms != 0: the norm is the root mean square.
extern "C" __global__ void normalize_rows(const float* x, float* y, int rows, int d, int rms, float epsilon) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = x + (long long)r * d;
    float* out = y + (long long)r * d;
    float squares = 0.0f;
    for (int j = 0; j < d; j++) squares += row[j] * row[j];
    float norm = sqrtf(rms ? squares / (float)d : squares);
    float scale = 1.0f / (norm + epsilon);
    for (int j = 0; j < d; j++) out[j] = row[j] * scale;
}
