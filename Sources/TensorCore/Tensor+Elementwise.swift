import Foundation

// Elementwise and per-row primitives the feedback-free rules are written on (FA, sign symmetry,
// DRTP, PEPITA, forward gradient, predictive coding). Each is one pass over its operands and
// writes into an existing tensor, so a training step allocates nothing.

extension Tensor {
    /// `self *= α`.
    public mutating func scale(by alpha: Float) {
        let n = count
        if let device = backend {
            return device.launch(.scale, threads: n, [.pointer(mutableAddress()), .int64(Int64(n)), .float32(alpha)])
        }
        withUnsafeMutablePointer { p in for i in 0..<n { p[i] *= alpha } }
    }

    /// `self ⊙= other` (equal counts).
    public mutating func multiply(_ other: Tensor) {
        let n = count
        precondition(other.count == n, "multiply: \(shape) vs \(other.shape)")
        if let device = backend {
            return device.launch(.multiply, threads: n, [.pointer(other.address), .pointer(mutableAddress()), .int64(Int64(n))])
        }
        other.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in for i in 0..<n { dst[i] *= src[i] } }
        }
    }

    /// `self = a − b`, resized to `a`'s shape (equal counts).
    public mutating func assignDifference(_ a: Tensor, _ b: Tensor) {
        precondition(a.count == b.count, "assignDifference: \(a.shape) vs \(b.shape)")
        resize(to: a.shape, on: a.backend)
        let n = count
        if let device = a.backend {
            return device.launch(.difference, threads: n, [.pointer(a.address), .pointer(b.address), .pointer(mutableAddress()), .int64(Int64(n))])
        }
        a.withUnsafePointer { pa in
            b.withUnsafePointer { pb in
                withUnsafeMutablePointer { dst in for i in 0..<n { dst[i] = pa[i] - pb[i] } }
            }
        }
    }

    /// `self = scale·|magnitudes|·sign(signs)` elementwise, `sign(0) = 0` (as `torch.sign`);
    /// without magnitudes, `scale·sign(signs)`. Resized to `signs`' shape.
    public mutating func assignSigns(of signs: Tensor, scale: Float, magnitudes: Tensor? = nil) {
        precondition(magnitudes.map { $0.count == signs.count } ?? true, "assignSigns: magnitudes \(magnitudes!.shape) vs \(signs.shape)")
        resize(to: signs.shape, on: signs.backend)
        let n = count
        if let device = signs.backend {
            return device.launch(.assignSigns, threads: n, [.pointer(signs.address), .pointer(magnitudes?.address ?? 0), .pointer(mutableAddress()),
                                                            .int64(Int64(n)), .float32(scale)])
        }
        func sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
        signs.withUnsafePointer { w in
            withUnsafeMutablePointer { b in
                if let magnitudes {
                    magnitudes.withUnsafePointer { m in for i in 0..<n { b[i] = scale * abs(m[i]) * sign(w[i]) } }
                } else {
                    for i in 0..<n { b[i] = scale * sign(w[i]) }
                }
            }
        }
    }

    /// Fills the tensor with scalars uniform in [lower, upper).
    public mutating func fillUniform(in range: ClosedRange<Float>, using generator: inout SeededGenerator) {
        if backend != nil { return fillOnHost { $0.fillUniform(in: range, using: &generator) } }
        let n = count
        let width = range.upperBound - range.lowerBound
        withUnsafeMutablePointer { p in
            for i in 0..<n { p[i] = range.lowerBound + width * generator.nextUnitFloat() }
        }
    }

    /// Fills the tensor with standard normal scalars (Box–Muller) times `standardDeviation`.
    public mutating func fillNormal(standardDeviation: Float = 1, using generator: inout SeededGenerator) {
        if backend != nil { return fillOnHost { $0.fillNormal(standardDeviation: standardDeviation, using: &generator) } }
        fillNormalPairs(standardDeviation: standardDeviation) { _ in generator.nextUnitDouble() }
    }

    /// Fills the tensor with scalars uniform in [lower, upper) from the counter-based draws of
    /// `key`: on a device, drawn there.
    public mutating func fillUniform(in range: ClosedRange<Float>, key: UInt64) {
        let n = count, width = range.upperBound - range.lowerBound
        if let device = backend {
            return device.launch(.uniformFill, threads: n, [.pointer(mutableAddress()), .int64(Int64(n)), .float32(range.lowerBound),
                                                            .float32(width), .int64(Int64(bitPattern: key))])
        }
        withUnsafeMutablePointer { p in
            for i in 0..<n { p[i] = range.lowerBound + width * CounterRandom.unitFloat(key: key, index: UInt64(i)) }
        }
    }

    /// Fills the tensor with standard normal scalars (Box–Muller on counter-based draws
    /// 2p and 2p+1 of `key`) times `standardDeviation`: on a device, drawn there.
    public mutating func fillNormal(standardDeviation: Float = 1, key: UInt64) {
        let n = count
        if let device = backend {
            return device.launch(.normalFill, threads: (n + 1) / 2, [.pointer(mutableAddress()), .int64(Int64(n)),
                                                                     .float32(standardDeviation), .int64(Int64(bitPattern: key))])
        }
        fillNormalPairs(standardDeviation: standardDeviation) { CounterRandom.unitDouble(key: key, index: UInt64($0)) }
    }

    /// Scalars 2p and 2p+1 from `BoxMuller.pair(uniform(2p), uniform(2p + 1))`, times
    /// `standardDeviation`, the uniforms asked for in index order.
    private mutating func fillNormalPairs(standardDeviation: Float, _ uniform: (Int) -> Double) {
        let n = count
        withUnsafeMutablePointer { p in
            for i in stride(from: 0, to: n, by: 2) {
                let (first, second) = BoxMuller.pair(uniform(i), uniform(i + 1))
                p[i] = Float(first) * standardDeviation
                if i + 1 < n { p[i + 1] = Float(second) * standardDeviation }
            }
        }
    }

    /// Fills the tensor with an inverted-dropout mask from the counter-based draws of `key`: each
    /// scalar is `1/keep` with probability `keep`, else 0. On a device, drawn there.
    public mutating func fillDropoutMask(keep: Float, key: UInt64) {
        let n = count
        if let device = backend {
            return device.launch(.dropoutMask, threads: n, [.pointer(mutableAddress()), .int64(Int64(n)), .float32(keep),
                                                            .int64(Int64(bitPattern: key))])
        }
        let kept = 1 / keep
        withUnsafeMutablePointer { p in
            for i in 0..<n { p[i] = CounterRandom.unitFloat(key: key, index: UInt64(i)) < keep ? kept : 0 }
        }
    }

    /// `dots[n] = Σ_j self[n, j]·other[n, j]`.
    ///
    /// Shapes: self and other N×D, dots N.
    public func rowDots(_ other: Tensor, into dots: inout Tensor) {
        let (n, d) = (rows, columns)
        precondition(other.rows == n && other.columns == d, "rowDots: \(shape) vs \(other.shape)")
        dots.resize(to: [n], on: backend)
        if let device = backend {
            return device.launch(.rowDots, threads: n, [.pointer(address), .pointer(other.address), .pointer(dots.mutableAddress()),
                                                        .int32(Int32(n)), .int32(Int32(d))])
        }
        withUnsafePointer { a in
            other.withUnsafePointer { b in
                dots.withUnsafeMutablePointer { out in
                    for r in 0..<n {
                        var sum: Float = 0
                        for j in 0..<d { sum += a[r * d + j] * b[r * d + j] }
                        out[r] = sum
                    }
                }
            }
        }
    }

    /// Row `n` times `factors[n]`.
    ///
    /// Shapes: self N×D, factors N.
    public mutating func scaleRows(by factors: Tensor) {
        let (n, d) = (rows, columns)
        precondition(factors.count == n, "scaleRows: \(factors.count) factors for \(n) rows")
        if let device = backend {
            return device.launch(.scaleRows, threads: n * d, [.pointer(factors.address), .pointer(mutableAddress()), .int32(Int32(n)), .int32(Int32(d))])
        }
        factors.withUnsafePointer { f in
            withUnsafeMutablePointer { p in
                for r in 0..<n { for j in 0..<d { p[r * d + j] *= f[r] } }
            }
        }
    }

    /// A random fill of a device tensor: drawn on the host from the same generator, so that a
    /// seeded run draws the same numbers on either device, then copied over (one copy per call).
    private mutating func fillOnHost(_ fill: (inout Tensor) -> Void) {
        var host = Tensor(uninitialized: shape)
        fill(&host)
        let bytes = count * 4
        backend!.upload(host.storage.pointer, bytes: bytes, to: mutableAddress())
    }
}
