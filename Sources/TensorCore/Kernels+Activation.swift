import Foundation

/// Pointwise activations, each forward next to its backward. All are single fused passes and
/// may run in place (`output` may be the same buffer as `input`).
public enum ActivationKernels {
    /// ReLU forward: `y = max(x, 0)`.
    ///
    /// Shapes: x and y of any equal shape.
    public static func reluForward(_ x: Tensor, into y: inout Tensor) {
        y.resize(to: x.shape, on: x.backend)
        if let device = x.backend {
            return device.launch(.reluForward, threads: x.count, [.pointer(x.address), .pointer(y.mutableAddress()), .int64(Int64(x.count))])
        }
        x.withUnsafePointer { xp in
            y.withUnsafeMutablePointer { yp in
                let (source, target) = (SharedPointer(xp), SharedPointer(yp))
                Parallel.forEachChunk(count: x.count, grain: parallelGrain) { range in
                    typealias Lanes = SIMD8<Float>
                    let (xp, yp) = (source.pointer, target.pointer)
                    var i = range.lowerBound
                    while i + 8 <= range.upperBound {
                        Lanes.load(xp + i).replacing(with: 0, where: Lanes.load(xp + i) .< 0).store(to: yp + i)
                        i += 8
                    }
                    while i < range.upperBound { yp[i] = max(xp[i], 0); i += 1 }
                }
            }
        }
    }

    /// Elements per chunk before a pointwise pass is split over the threads: large, so that the
    /// MLPs' 128×2000 activations stay on one thread (between two products, waking a second one
    /// costs more than it saves) and the CNN's 128×28×28×32 maps are split.
    static let parallelGrain = 1 << 18

    /// ReLU backward from its output: `dx = g · 1[y > 0]`.
    ///
    /// Shapes: g, y and dx of one shape.
    public static func reluBackward(_ g: Tensor, output y: Tensor, into dx: inout Tensor) {
        precondition(y.count == g.count, "reluBackward: gradient \(g.shape) vs output \(y.shape)")
        dx.resize(to: g.shape, on: g.backend)
        if let device = g.backend {
            return device.launch(.reluBackward, threads: g.count, [.pointer(y.address), .pointer(g.address), .pointer(dx.mutableAddress()),
                                                                    .int64(Int64(g.count))])
        }
        g.withUnsafePointer { gp in
            y.withUnsafePointer { yp in
                dx.withUnsafeMutablePointer { dp in
                    let (gradient, output, target) = (SharedPointer(gp), SharedPointer(yp), SharedPointer(dp))
                    Parallel.forEachChunk(count: g.count, grain: parallelGrain) { range in
                        typealias Lanes = SIMD8<Float>
                        let (gp, yp, dp) = (gradient.pointer, output.pointer, target.pointer)
                        var i = range.lowerBound
                        while i + 8 <= range.upperBound {
                            Lanes.load(gp + i).replacing(with: 0, where: Lanes.load(yp + i) .<= 0).store(to: dp + i)
                            i += 8
                        }
                        while i < range.upperBound { dp[i] = yp[i] > 0 ? gp[i] : 0; i += 1 }
                    }
                }
            }
        }
    }

    /// Tanh forward: `y = tanh(x)`.
    ///
    /// Shapes: x and y of any equal shape.
    public static func tanhForward(_ x: Tensor, into y: inout Tensor) {
        let n = x.count
        y.resize(to: x.shape, on: x.backend)
        if let device = x.backend {
            return device.launch(.tanhForward, threads: n, [.pointer(x.address), .pointer(y.mutableAddress()), .int64(Int64(n))])
        }
        x.withUnsafePointer { xp in
            y.withUnsafeMutablePointer { yp in
                for i in 0..<n { yp[i] = Foundation.tanh(xp[i]) }
            }
        }
    }

    /// Tanh backward from its output: `dx = g · (1 − y²)`.
    ///
    /// Shapes: g, y and dx of one shape.
    public static func tanhBackward(_ g: Tensor, output y: Tensor, into dx: inout Tensor) {
        let n = g.count
        precondition(y.count == n, "tanhBackward: gradient \(g.shape) vs output \(y.shape)")
        dx.resize(to: g.shape, on: g.backend)
        if let device = g.backend {
            return device.launch(.tanhBackward, threads: n, [.pointer(y.address), .pointer(g.address), .pointer(dx.mutableAddress()), .int64(Int64(n))])
        }
        g.withUnsafePointer { gp in
            y.withUnsafePointer { yp in
                dx.withUnsafeMutablePointer { dp in
                    for i in 0..<n { dp[i] = gp[i] * (1 - yp[i] * yp[i]) }
                }
            }
        }
    }
}
