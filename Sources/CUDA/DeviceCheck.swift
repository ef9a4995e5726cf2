import Foundation
import TensorCore

/// A self-check of a GPU through bpfree's own host code: kernels compiled and loaded, launches
/// over many blocks with every kind of argument, copies both ways, and cuBLAS products in every
/// transpose combination, each against a float64 reference on the CPU by ‖out − ref‖/‖ref‖.
/// `bpfree info --check-gpu` runs it on the card; the tests run it on the CPU emulation.
public enum DeviceCheck {
    /// One check's outcome.
    public struct Result: Sendable, CustomStringConvertible {
        public let name: String
        /// ‖out − ref‖/‖ref‖, or nil when the check could not run.
        public let relativeError: Double?
        public let note: String?
        /// The largest error that passes.
        public let tolerance: Double
        public var passed: Bool { relativeError.map { $0 <= tolerance } ?? false }

        /// A check's outcome: its error, or why it could not run.
        public init(name: String, relativeError: Double?, note: String?, tolerance: Double = DeviceCheck.tolerance) {
            (self.name, self.relativeError, self.note, self.tolerance) = (name, relativeError, note, tolerance)
        }

        public var description: String {
            let error = relativeError.map { String(format: "relative error %.2e", $0) } ?? "not run"
            return "\(passed ? "ok  " : "FAIL") \(name): \(error)" + (note.map { " (\($0))" } ?? "")
        }
    }

    /// FP32 against float64: far below this when the host code is right.
    public static let tolerance = 1e-5

    static func relativeError(_ output: [Float], _ reference: [Double]) -> Double {
        let difference = zip(output, reference).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }
        let norm = reference.reduce(0.0) { $0 + $1 * $1 }
        return (difference / max(norm, 1e-300)).squareRoot()
    }

    /// A check that could not run, and why.
    struct NotRun: Error, CustomStringConvertible {
        let description: String
    }

    /// The outcome of `body`, which returns the output, its float64 reference and a note, or
    /// throws why it could not run.
    static func check(_ name: String, tolerance: Double = tolerance,
                      _ body: () throws -> (output: [Float], reference: [Double], note: String?)) -> Result {
        do {
            let (output, reference, note) = try body()
            return Result(name: name, relativeError: relativeError(output, reference), note: note, tolerance: tolerance)
        } catch {
            return Result(name: name, relativeError: nil, note: "\(error)", tolerance: tolerance)
        }
    }

    static func check(_ name: String, _ body: () throws -> (output: [Float], reference: [Double])) -> Result {
        check(name) { let (output, reference) = try body(); return (output, reference, nil) }
    }

    /// Row-major `op(A)·op(B)` in float64, `a` and `b` as stored (op(A) m×k, op(B) k×n).
    static func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) -> [Double] {
        func aAt(_ i: Int, _ p: Int) -> Double { Double(transposeA ? a[p * m + i] : a[i * k + p]) }
        func bAt(_ p: Int, _ j: Int) -> Double { Double(transposeB ? b[j * k + p] : b[p * n + j]) }
        return (0..<(m * n)).map { index in (0..<k).reduce(0.0) { $0 + aAt(index / n, $1) * bAt($1, index % n) } }
    }

    /// Runs every check on `device` (and cuBLAS, when `blas` is given).
    public static func run(_ device: CUDADevice, blas: CUBLAS?) -> [Result] {
        var generator = Mixer(seed: 12)
        let upload = device.upload
        func download(_ block: DeviceAllocator.Block, _ count: Int) throws -> [Float] { try device.download(block, count: count) }
        var results: [Result] = []
        // Copies: a 1 MiB round trip.
        results.append(check("copy to the card and back (1 MiB)") {
            let x = generator.values(1 << 18)
            let block = try upload(x)
            defer { device.allocator.release(block) }
            return (try download(block, x.count), x.map(Double.init))
        })
        // add_scaled: pointers, a 64-bit count and a float, over 391 blocks with a partial last one.
        results.append(check("add_scaled, 100,003 elements") {
            let (x, y) = (generator.values(100_003), generator.values(100_003))
            let (xb, yb) = (try upload(x), try upload(y))
            defer { device.allocator.release(xb); device.allocator.release(yb) }
            try device.launch("add_scaled", threads: x.count, [.pointer(xb.address), .pointer(yb.address), .int64(Int64(x.count)), .float32(-0.37)])
            return (try download(yb, y.count), zip(x, y).map { Double($1) + Double(Float(-0.37)) * Double($0) })
        })
        // softmax_rows: 32-bit sizes, one thread per row.
        results.append(check("softmax_rows, 257 × 10") {
            let (n, c) = (257, 10)
            let z = generator.values(n * c)
            let (zb, pb) = (try upload(z), try device.allocator.block(bytes: n * c * 4))
            defer { device.allocator.release(zb); device.allocator.release(pb) }
            try device.launch("softmax_rows", threads: n, [.pointer(zb.address), .pointer(pb.address), .int32(Int32(n)), .int32(Int32(c))])
            var reference: [Double] = []
            for row in 0..<n {
                let logits = z[(row * c)..<((row + 1) * c)].map(Double.init), top = logits.max()!
                let exps = logits.map { Foundation.exp($0 - top) }, total = exps.reduce(0, +)
                reference += exps.map { $0 / total }
            }
            return (try download(pb, n * c), reference)
        })
        // adam_step: four pointers, a 64-bit count and seven floats; one AdamW step from zero moments.
        results.append(check("adam_step, 10,000 parameters") {
            let n = 10_000
            let (w, g) = (generator.values(n), generator.values(n))
            let (wb, gb, mb, vb) = (try upload(w), try upload(g), try upload(.init(repeating: 0, count: n)), try upload(.init(repeating: 0, count: n)))
            defer { for block in [wb, gb, mb, vb] { device.allocator.release(block) } }
            let (rate, decay, b1, b2, epsilon) = (1e-2, 0.1, 0.9, 0.999, 1e-8)
            let stepSize = rate / (1 - b1), correction2 = (1 - b2).squareRoot()
            try device.launch("adam_step", threads: n, [.pointer(wb.address), .pointer(gb.address), .pointer(mb.address), .pointer(vb.address),
                                                        .int64(Int64(n)), .float32(Float(b1)), .float32(Float(b2)), .float32(Float(epsilon)),
                                                        .float32(Float(stepSize)), .float32(Float(correction2)), .float32(0), .float32(Float(1 - rate * decay))])
            let reference = zip(w, g).map { w, g -> Double in
                let shrunk = Double(w) * (1 - rate * decay), m = (1 - b1) * Double(g), v = (1 - b2) * Double(g) * Double(g)
                return shrunk - stepSize * (m / (v.squareRoot() / correction2 + epsilon))
            }
            return (try download(wb, n), reference)
        })
        // normal_fill: a 64-bit key; the card draws what CounterRandom draws on the host (training's
        // random fills are made there from a key and must match the CPU's).
        results.append(check("normal_fill, 100,001 counter-based draws") {
            let (n, key) = (100_001, UInt64(0x5EED_0000_0000_0017))
            let block = try device.allocator.block(bytes: n * 4)
            defer { device.allocator.release(block) }
            try device.launch("normal_fill", threads: (n + 1) / 2, [.pointer(block.address), .int64(Int64(n)), .float32(1), .int64(Int64(bitPattern: key))])
            var reference: [Double] = []
            for i in stride(from: 0, to: n, by: 2) {
                let pair = BoxMuller.pair(CounterRandom.unitDouble(key: key, index: UInt64(i)), CounterRandom.unitDouble(key: key, index: UInt64(i + 1)))
                reference += [pair.0, pair.1].prefix(n - i)
            }
            return (try download(block, n), reference)
        })
        guard let blas else { return results }
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            results.append(check("cuBLAS sgemm\(transposeA ? " Aᵀ" : " A")·\(transposeB ? "Bᵀ" : "B"), 65 × 129 × 33") {
                let (m, n, k) = (65, 33, 129)
                let (a, b) = (generator.values(m * k), generator.values(k * n))
                let (ab, bb, cb) = (try upload(a), try upload(b), try device.allocator.block(bytes: m * n * 4))
                defer { for block in [ab, bb, cb] { device.allocator.release(block) } }
                try blas.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: ab.address, lda: transposeA ? m : k,
                              b: bb.address, ldb: transposeB ? k : n, c: cb.address, ldc: n)
                return (try download(cb, m * n), product(a, b, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB))
            })
        }
        return results
    }

    /// A step of a cuBLAS product, a kernel and a device copy (`Y = A·B + α·X`) run three times
    /// through `backend.step` with a different α: call by call, then built into a CUDA graph,
    /// then that graph with the kernel's α patched; every output against a float64 reference,
    /// and two of the three steps must have run as a graph.
    public static func stepGraph(on backend: CUDABackend) -> Result {
        let name = "a step as a CUDA graph: built, then patched"
        guard backend.usesGraphs else { return Result(name: name, relativeError: nil, note: "graphs are off (BPFREE_CUDA_GRAPHS=off)") }
        return check(name) {
            var generator = Mixer(seed: 13)
            let (m, n, k) = (33, 17, 65)
            let (a, b, x) = (generator.values(m * k), generator.values(k * n), generator.values(m * n))
            let cuda = backend.cuda
            let (ab, bb, xb, cb, yb) = (try cuda.upload(a), try cuda.upload(b), try cuda.upload(x), try cuda.upload(x), try cuda.upload(x))
            defer { for block in [ab, bb, xb, cb, yb] { cuda.allocator.release(block) } }
            let before = backend.graphSteps
            var (outputs, reference) = ([Float](), [Double]())
            let aTimesB = product(a, b, m: m, n: n, k: k)
            for alpha in [Float(0.5), -1.25, 2] {
                backend.step {
                    backend.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: ab.address, lda: k, b: bb.address, ldb: n,
                                 beta: 0, c: cb.address, ldc: n)
                    backend.launch(.addScaled, threads: m * n, [.pointer(xb.address), .pointer(cb.address), .int64(Int64(m * n)), .float32(alpha)])
                    backend.copy(from: cb.address, to: yb.address, bytes: m * n * 4)
                }
                outputs += try cuda.download(yb, count: m * n)
                reference += zip(aTimesB, x).map { $0 + Double(alpha) * Double($1) }
            }
            let graphSteps = backend.graphSteps - before
            guard graphSteps == 2 else { throw NotRun(description: "\(graphSteps) of 3 steps ran as a graph, not 2") }
            return (outputs, reference)
        }
    }

    /// The three passes of a strided, padded convolution through the card's convolution library
    /// (cuDNN), each by the algorithm its search finds fastest among the deterministic ones, the
    /// weight gradient added to weights already there; against float64. cuDNN's FFT and
    /// Winograd algorithms round more than a direct sum, so the bar is 1e-4.
    public static func convolutions(on backend: CUDABackend) -> Result {
        let shape = ConvolutionShape(batch: 8, height: 9, width: 9, inputChannels: 5, outputChannels: 7, kernelSize: 3, stride: 2, padding: 1)
        return check("cuDNN convolutions, each pass, \(shape)", tolerance: 1e-4) {
            guard let library = backend.convolutionLibrary else {
                throw NotRun(description: backend.cudnnUnavailable ?? "BPFREE_CUDA_CONVOLUTIONS=im2col")
            }
            var generator = Mixer(seed: 14)
            let (n, h, w, c, o, k, ho, wo) = (shape.batch, shape.height, shape.width, shape.inputChannels, shape.outputChannels, shape.kernelSize,
                                              shape.outputHeight, shape.outputWidth)
            let (x, weights, y) = (generator.values(n * h * w * c), generator.values(o * k * k * c), generator.values(n * ho * wo * o))
            // Float64 references: y = x ⊛ w, x = y ⊛ᵀ w, w + xᵀ ⊛ y.
            var reference: [ConvolutionPass: [Double]] = [.forward: .init(repeating: 0, count: y.count),
                                                          .backwardData: .init(repeating: 0, count: x.count),
                                                          .backwardWeights: weights.map(Double.init)]
            for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for f in 0..<o { for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (oy * shape.stride - shape.padding + ky, ox * shape.stride - shape.padding + kx)
                guard (0..<h).contains(iy) && (0..<w).contains(ix) else { continue }
                let yi = ((b * ho + oy) * wo + ox) * o + f
                for q in 0..<c {
                    let (xi, wi) = (((b * h + iy) * w + ix) * c + q, ((f * k + ky) * k + kx) * c + q)
                    reference[.forward]![yi] += Double(x[xi]) * Double(weights[wi])
                    reference[.backwardData]![xi] += Double(y[yi]) * Double(weights[wi])
                    reference[.backwardWeights]![wi] += Double(x[xi]) * Double(y[yi])
                }
            } } } } } }
            let cuda = backend.cuda
            var (outputs, references, algorithms) = ([Float](), [Double](), [String]())
            for pass in ConvolutionPass.allCases {
                // The search writes the pass's output, so the pass runs on fresh copies of the inputs.
                let search = (try cuda.upload(x), try cuda.upload(weights), try cuda.upload(y))
                defer { for block in [search.0, search.1, search.2] { cuda.allocator.release(block) } }
                guard let algorithm = library.fastestAlgorithm(for: pass, shape, x: search.0.address, w: search.1.address, y: search.2.address) else {
                    throw NotRun(description: "no deterministic algorithm for the \(pass.rawValue) pass")
                }
                let (xb, wb, yb) = (try cuda.upload(x), try cuda.upload(weights), try cuda.upload(y))
                defer { for block in [xb, wb, yb] { cuda.allocator.release(block) } }
                library.run(pass, shape, algorithm, x: xb.address, w: wb.address, y: yb.address)
                outputs += try cuda.download(pass == .forward ? yb : pass == .backwardData ? xb : wb, count: reference[pass]!.count)
                references += reference[pass]!
                algorithms.append("\(pass.rawValue) \(algorithm.name)")
            }
            return (outputs, references, "\(backend.convolutionLibraryName ?? "cuDNN"): " + algorithms.joined(separator: ", "))
        }
    }

    /// SplitMix64: the check's inputs, the same on every machine.
    struct Mixer {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func unit() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }

        /// `count` values uniform in [−2, 2).
        mutating func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(unit() * 4 - 2) } }
    }
}
