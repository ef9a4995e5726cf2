// Losses with their gradients in one pass per row: softmax cross-entropy
// (SoftmaxKernels.crossEntropy) and the logistic kernels of Forward-Forward's layer loss and
// peer normalisation (LogisticKernels). Sums go to one double (atomicAdd on double needs
// sm_60 or later, which every supported card has).

__device__ float bpfree_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
__device__ float bpfree_sigmoid(float x) { return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x)); }

// loss += Σ_r logsumexp(z_r) − z_r[y_r]; correct += rows whose first maximum is the label;
// with grad: grad_r = (softmax(z_r) − onehot(y_r))·scale.
extern "C" __global__ void softmax_cross_entropy(const float* z, const float* labels, float* grad, int rows, int c,
                                                 float scale, double* loss, unsigned int* correct) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = z + (long long)r * c;
    int label = (int)labels[r];
    float maximum = row[0];
    int best = 0;
    for (int j = 1; j < c; j++) if (row[j] > maximum) { maximum = row[j]; best = j; }
    float sum = 0.0f;
    for (int j = 0; j < c; j++) sum += expf(row[j] - maximum);
    atomicAdd(loss, (double)(logf(sum) + maximum - row[label]));
    if (best == label) atomicAdd(correct, 1u);
    if (grad) {
        float* g = grad + (long long)r * c;
        float s = scale / sum;
        for (int j = 0; j < c; j++) g[j] = expf(row[j] - maximum) * s;
        g[label] -= scale;
    }
}

// z_r = scale·‖h_r‖² − shift, target 1 for r < positives; loss += Σ softplus(∓z_r);
// grad_r = (σ(z_r) − t_r)/M · 2·scale · h_r.
extern "C" __global__ void squared_norm_loss(const float* h, float* grad, int rows, int d, float scale, float shift,
                                             int positives, double* loss) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = h + (long long)r * d;
    float* out = grad + (long long)r * d;
    float squares = 0.0f;
    for (int j = 0; j < d; j++) squares += row[j] * row[j];
    float logit = squares * scale - shift;
    int positive = r < positives;
    atomicAdd(loss, (double)bpfree_softplus(positive ? -logit : logit));
    float coefficient = (bpfree_sigmoid(logit) - (positive ? 1.0f : 0.0f)) / (float)rows * 2.0f * scale;
    for (int j = 0; j < d; j++) out[j] = coefficient * row[j];
}

// loss += Σ_r ½[softplus(shift − s[y_r, r]) + mean_{l≠y_r} softplus(s[l, r] − shift)]   (s C×R)
extern "C" __global__ void candidate_loss(const float* s, const float* labels, int c, int rows, float shift, double* loss) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    int y = (int)labels[r];
    float negative = 0.0f;
    for (int l = 0; l < c; l++) if (l != y) negative += bpfree_softplus(s[(long long)l * rows + r] - shift);
    float positive = bpfree_softplus(shift - s[(long long)y * rows + r]);
    atomicAdd(loss, (double)(positive + negative / (float)(c - 1)) / 2.0);
}

// mean_j ← momentum·mean_j + (1 − momentum)/rows · Σ_{r<rows} h[r, j]   (one thread per column)
extern "C" __global__ void blend_column_means(const float* h, float* mean, int rows, int d, float momentum) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    float value = mean[j] * momentum;
    float share = (1.0f - momentum) / (float)rows;
    for (int r = 0; r < rows; r++) value += share * h[(long long)r * d + j];
    mean[j] = value;
}

// grad[r, j] += scale·(v_j − v̄) for r < rows, v̄ = mean(v) computed by every thread (d is a
// layer width: a few thousand reads from cache).
extern "C" __global__ void add_centered(const float* v, float* grad, int rows, int d, float scale) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * d) return;
    float mean = 0.0f;
    for (int j = 0; j < d; j++) mean += v[j];
    mean /= (float)d;
    grad[i] += scale * (v[i % d] - mean);
}

// loss += Σ_r Σ_j (z_rj − [j = y_r])², each row in double (CaFo's MSE predictors)
extern "C" __global__ void squared_error(const float* z, const float* labels, int rows, int c, double* loss) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    int y = (int)labels[r];
    double sum = 0.0;
    for (int j = 0; j < c; j++) {
        double difference = (double)z[(long long)r * c + j] - (j == y ? 1.0 : 0.0);
        sum += difference * difference;
    }
    atomicAdd(loss, sum);
}

// Sparsemax of one row of at most 128 scores into p; returns τ. The support is found on the
// row sorted in decreasing order (an insertion sort: rows are class scores).
__device__ float bpfree_sparsemax(const float* z, int c, float* p) {
    float sorted[128];
    for (int j = 0; j < c; j++) {
        float value = z[j];
        int k = j;
        while (k > 0 && sorted[k - 1] < value) { sorted[k] = sorted[k - 1]; k--; }
        sorted[k] = value;
    }
    float cumulative = 0.0f, supportSum = sorted[0];
    int support = 1;
    for (int k = 1; k <= c; k++) {
        cumulative += sorted[k - 1];
        if (1.0f + (float)k * sorted[k - 1] > cumulative) { support = k; supportSum = cumulative; }
    }
    float tau = (supportSum - 1.0f) / (float)support;
    for (int j = 0; j < c; j++) p[j] = fmaxf(z[j] - tau, 0.0f);
    return tau;
}

// p[r, :] = sparsemax(z[r, :])
extern "C" __global__ void sparsemax_rows(const float* z, float* p, int rows, int c) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    bpfree_sparsemax(z + (long long)r * c, c, p + (long long)r * c);
}

// Sparsemax loss −z_y + ½Σ_{p_j>0}(z_j² − τ²) + ½ per row (loss += in double), correct += rows
// whose first maximum is the label; with grad, grad_r = (sparsemax(z_r) − onehot(y_r))·scale.
extern "C" __global__ void sparsemax_loss(const float* z, const float* labels, float* grad, int rows, int c, float scale,
                                          double* loss, unsigned int* correct) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = z + (long long)r * c;
    int y = (int)labels[r];
    float p[128];
    float tau = bpfree_sparsemax(row, c, p);
    double value = -(double)row[y] + 0.5;
    int best = 0;
    for (int j = 0; j < c; j++) {
        if (p[j] > 0.0f) value += 0.5 * ((double)row[j] * (double)row[j] - (double)tau * (double)tau);
        if (row[j] > row[best]) best = j;
        if (grad) grad[(long long)r * c + j] = (p[j] - (j == y ? 1.0f : 0.0f)) * scale;
    }
    atomicAdd(loss, value);
    if (best == y) atomicAdd(correct, 1u);
}

// total += scale·sum: a reduction's sum added to a running loss on the device (LossSum), so the
// host reads the loss once an epoch instead of waiting for it every batch.
extern "C" __global__ void add_scaled_sum(const double* sum, double* total, float scale) {
    if (blockIdx.x * blockDim.x + threadIdx.x == 0) *total += *sum * (double)scale;
}

// *total += *count: a reduction's count (correct predictions) into a running double.
extern "C" __global__ void add_count(const unsigned* count, double* total) {
    if (blockIdx.x * blockDim.x + threadIdx.x == 0) *total += (double)*count;
}
