// Counter-based draws (Randomness/CounterRandom.swift computes the same numbers on the host):
// draw i of a fill is SplitMix64's output at counter i from the fill's 64-bit key, which the
// host takes from the run's seeded generator, so a fill copies nothing to the card.

__device__ unsigned long long bpfree_draw_bits(unsigned long long key, unsigned long long index) {
    unsigned long long z = key + (index + 1ull) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
__device__ float bpfree_draw_float(unsigned long long key, unsigned long long index) {
    return (float)(bpfree_draw_bits(key, index) >> 40) * 5.9604644775390625e-8f;   // 2⁻²⁴
}
__device__ double bpfree_draw_double(unsigned long long key, unsigned long long index) {
    return (double)(bpfree_draw_bits(key, index) >> 11) * 1.1102230246251565e-16;   // 2⁻⁵³
}

// y[i] = lower + width·u_i, uniform in [lower, lower + width).
extern "C" __global__ void uniform_fill(float* y, long long n, float lower, float width, long long key) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    y[i] = lower + width * bpfree_draw_float((unsigned long long)key, (unsigned long long)i);
}

// y[i] = 1/keep with probability keep, else 0 (inverted dropout).
extern "C" __global__ void dropout_mask(float* y, long long n, float keep, long long key) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    y[i] = bpfree_draw_float((unsigned long long)key, (unsigned long long)i) < keep ? 1.0f / keep : 0.0f;
}

// Standard normal pairs by Box–Muller from draws 2p and 2p+1, times sd (one thread per pair).
extern "C" __global__ void normal_fill(float* y, long long n, float sd, long long key) {
    long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long i = 2 * p;
    if (i >= n) return;
    double u1 = bpfree_draw_double((unsigned long long)key, (unsigned long long)i);
    double u2 = bpfree_draw_double((unsigned long long)key, (unsigned long long)i + 1);
    if (u1 < 2.2250738585072014e-308) u1 = 2.2250738585072014e-308;
    double radius = sqrt(-2.0 * log(u1));
    double angle = 6.283185307179586 * u2;
    y[i] = (float)(radius * cos(angle)) * sd;
    if (i + 1 < n) y[i + 1] = (float)(radius * sin(angle)) * sd;
}

// Forward-Forward's labels for 2N rows: out[r] = labels[r] (positive), out[N + r] a class other
// than labels[r] (negative): uniform over the other C − 1 (scores null), or drawn from the
// softmax of scores[r, :] over them (hard negatives; scores N×C).
extern "C" __global__ void negative_labels(const float* labels, const float* scores, float* out, int rows, int c, long long key) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    int y = (int)labels[r];
    float u = bpfree_draw_float((unsigned long long)key, (unsigned long long)r);
    out[r] = labels[r];
    if (!scores) {
        out[rows + r] = (float)((y + 1 + (int)floorf(u * (float)(c - 1))) % c);
        return;
    }
    const float* s = scores + (long long)r * c;
    float maximum = s[y == 0 ? 1 : 0];
    for (int j = 0; j < c; j++) if (j != y && s[j] > maximum) maximum = s[j];
    float total = 0.0f;
    for (int j = 0; j < c; j++) if (j != y) total += expf(s[j] - maximum);
    float remaining = u * total;
    for (int j = 0; j < c; j++) {
        if (j == y) continue;
        remaining -= expf(s[j] - maximum);
        if (remaining < 0.0f) { out[rows + r] = (float)j; return; }
    }
    out[rows + r] = (float)((y + 1) % c);
}

// CIFAR's augmentation: each image cropped from its 4-pixel reflect padding at offsets
// (dy, dx) in −4…4 and flipped with p = 0.5, drawn from draws 3r, 3r+1, 3r+2 of the key
// (Datasets/Augmentation.swift draws the same on the host). in and out N×(C·H·W).
extern "C" __global__ void crop_flip(const float* in, long long key, float* out, int rows, int c, int h, int w) {
    long long size = (long long)c * h * w;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * size) return;
    long long r = i / size, within = i % size;
    int x = (int)(within % w), y = (int)(within / w % h), channel = (int)(within / w / h);
    unsigned long long k = (unsigned long long)key, first = 3ull * (unsigned long long)r;
    int dy = (int)floorf(bpfree_draw_float(k, first) * 9.0f) - 4, dx = (int)floorf(bpfree_draw_float(k, first + 1) * 9.0f) - 4;
    int flip = bpfree_draw_float(k, first + 2) < 0.5f;
    int sy = y + dy, sx = (flip ? w - 1 - x : x) + dx;
    sy = sy < 0 ? -sy : (sy >= h ? 2 * h - 2 - sy : sy);
    sx = sx < 0 ? -sx : (sx >= w ? 2 * w - 2 - sx : sx);
    out[i] = in[r * size + ((long long)channel * h + sy) * w + sx];
}
