/// The fused optimizer steps (NeuralNetwork's Adam and SGD): the value, the gradient and the
/// moments are read once and written once per step, the gradient zeroed for the next
/// accumulation; split across the kernel threads on the CPU, one thread per scalar on a device.
public enum OptimizerKernels {
    /// The coefficients of one Adam step (PyTorch's update).
    public struct AdamStep: Sendable {
        public var beta1, beta2, epsilon: Float
        /// `lr / (1 − β1ᵗ)`.
        public var stepSize: Float
        /// `√(1 − β2ᵗ)`.
        public var correction2: Float
        /// L2 decay added to the gradient (Adam), 0 for AdamW.
        public var l2: Float
        /// `1 − lr·λ`, the decoupled decay (AdamW), 1 for Adam.
        public var shrink: Float

        /// The step's coefficients.
        public init(beta1: Float, beta2: Float, epsilon: Float, stepSize: Float, correction2: Float, l2: Float, shrink: Float) {
            (self.beta1, self.beta2, self.epsilon, self.stepSize, self.correction2, self.l2, self.shrink)
                = (beta1, beta2, epsilon, stepSize, correction2, l2, shrink)
        }
    }

    /// Adam: `w ← w·shrink; g ← g + l2·w; m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²;
    /// w ← w − stepSize·m/(√v/correction2 + ε); g ← 0`.
    ///
    /// Shapes: w, g, m, v of one count.
    public static func adam(_ w: inout Tensor, gradient g: inout Tensor, firstMoment m: inout Tensor, secondMoment v: inout Tensor,
                            _ s: AdamStep) {
        let n = w.count
        precondition(g.count == n && m.count == n && v.count == n, "adam: value \(w.shape), gradient \(g.shape), moments \(m.shape) \(v.shape)")
        if let device = w.backend {
            return device.launch(.adamStep, threads: n, [
                .pointer(w.mutableAddress()), .pointer(g.mutableAddress()), .pointer(m.mutableAddress()), .pointer(v.mutableAddress()),
                .int64(Int64(n)), .float32(s.beta1), .float32(s.beta2), .float32(s.epsilon), .float32(s.stepSize),
                .float32(s.correction2), .float32(s.l2), .float32(s.shrink),
            ])
        }
        w.withUnsafeMutablePointer { wp in g.withUnsafeMutablePointer { gp in m.withUnsafeMutablePointer { mp in v.withUnsafeMutablePointer { vp in
            let (w, g, m, v) = (SharedPointer(wp), SharedPointer(gp), SharedPointer(mp), SharedPointer(vp))
            Parallel.forEachChunk(count: n) { range in
                let (w, g, m, v) = (w.pointer, g.pointer, m.pointer, v.pointer)
                // One pass: w, g, m, v are read once and written once (g as zero). A plain scalar loop on
                // purpose: LLVM vectorizes it (sqrtps, divps), while SIMD8's squareRoot() lowers to
                // eight libm calls.
                for i in range {
                    let wi = w[i] * s.shrink
                    let gi = g[i] + s.l2 * wi
                    let mi = m[i] + (1 - s.beta1) * (gi - m[i])
                    let vi = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
                    m[i] = mi
                    v[i] = vi
                    // NOTE: vi ≥ 0; `.magnitude` lets LLVM see it, so sqrt needs no errno path and vectorizes.
                    w[i] = wi - s.stepSize * (mi / (vi.magnitude.squareRoot() / s.correction2 + s.epsilon))
                    g[i] = 0
                }
            }
        } } } }
    }

    /// SGD (PyTorch): `g' = g + λw; b ← keep·b + add·g'; w ← w − lr·(nesterov ? g' + μ·b : b)`;
    /// without a momentum buffer `w ← w − lr·g'`; `g ← 0`.
    ///
    /// Shapes: w, g, b of one count.
    public static func sgd(_ w: inout Tensor, gradient g: inout Tensor, momentumBuffer b: inout Tensor?, learningRate lr: Float,
                           momentum mu: Float, decay wd: Float, keep: Float, add: Float, nesterov: Bool) {
        let n = w.count
        precondition(g.count == n && (b?.count ?? n) == n, "sgd: value \(w.shape), gradient \(g.shape)")
        if let device = w.backend {
            let buffer = b != nil ? b!.mutableAddress() : 0
            return device.launch(.sgdStep, threads: n, [
                .pointer(w.mutableAddress()), .pointer(g.mutableAddress()), .pointer(buffer), .int64(Int64(n)), .float32(lr),
                .float32(mu), .float32(wd), .float32(keep), .float32(add), .int32(nesterov ? 1 : 0),
            ])
        }
        w.withUnsafeMutablePointer { wp in g.withUnsafeMutablePointer { gp in
            let (value, gradient) = (SharedPointer(wp), SharedPointer(gp))
            guard b != nil else {
                return Parallel.forEachChunk(count: n) { range in
                    let (w, g) = (value.pointer, gradient.pointer)
                    for i in range {
                        w[i] -= lr * (g[i] + wd * w[i])
                        g[i] = 0
                    }
                }
            }
            b!.withUnsafeMutablePointer { bp in
                let buffer = SharedPointer(bp)
                Parallel.forEachChunk(count: n) { range in
                    let (w, g, buf) = (value.pointer, gradient.pointer, buffer.pointer)
                    for i in range {
                        let gi = g[i] + wd * w[i]
                        let m = keep * buf[i] + add * gi
                        buf[i] = m
                        w[i] -= lr * (nesterov ? gi + mu * m : m)
                        g[i] = 0
                    }
                }
            }
        } }
    }
}
