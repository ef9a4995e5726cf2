import Foundation
import Records
import Metering
import NeuralNetwork
import TensorCore

/// Measured speeds of BLAS and the hot kernels, for `bpfree info`.
public enum KernelBenchmarks {
    /// One timed kernel.
    public struct Measurement: Sendable, Codable, Equatable {
        public var name: String
        /// Seconds per call (the mean over the timed repetitions).
        public var seconds: Double
        public var gflops: Double?
        public var gbytesPerSecond: Double?

        enum CodingKeys: String, CodingKey {
            case name, seconds, gflops, gbytesPerSecond = "gbytes_per_second"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(gflops, forKey: .gflops)
            try c.encode(gbytesPerSecond, forKey: .gbytesPerSecond)
        }
    }

    /// Mean seconds per call of `body` after one warm-up call, repeated for at least `budget` seconds.
    static func time(budget: Double = 0.5, minimumRepetitions: Int = 3, _ body: () -> Void) -> Double {
        body()
        let clock = ContinuousClock()
        let start = clock.now
        var repetitions = 0
        var elapsed = 0.0
        repeat {
            body()
            repetitions += 1
            let (s, atto) = (clock.now - start).components
            elapsed = Double(s) + Double(atto) * 1e-18
        } while elapsed < budget || repetitions < minimumRepetitions
        return elapsed / Double(repetitions)
    }

    /// The sgemm rate in GFLOP/s for C(m×n) = A(m×k)·B(k×n).
    public static func sgemmRate(m: Int, n: Int, k: Int, budget: Double = 0.5) -> Double {
        var generator = SeededGenerator(seed: 1)
        let a = Tensor(shape: [m, k], uniformIn: -1...1, using: &generator)
        let b = Tensor(shape: [k, n], uniformIn: -1...1, using: &generator)
        var c = Tensor(zeros: [m, n])
        let seconds = time(budget: budget) { Tensor.matmul(a, .none, b, .none, into: &c) }
        return 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9
    }

    /// The hot kernels of training: a Linear layer's forward and backward at batch 128, 2000→2000;
    /// the study CNN's three Conv2D layers forward and forward+backward; one AdamW step over 10M parameters; softmax cross-entropy on 128×10.
    public static func hotKernels(budget: Double = 0.5) -> [Measurement] {
        var generator = SeededGenerator(seed: 1)
        var results: [Measurement] = []

        /// One forward and backward (input gradient included) of a layer, timed, with its FLOP rate.
        func forwardBackward(_ name: String, _ layer: any Layer, input: Tensor, gradient: Tensor,
                             inputGradient: InputGradient = .needed) -> Measurement {
            let flops = Double(OperationCounter.counting { counter in
                _ = layer.forward(input, mode: .training)
                _ = layer.backward(gradient, inputGradient: inputGradient)
                return counter.flops
            })
            let seconds = time(budget: budget) {
                _ = layer.forward(input, mode: .training)
                _ = layer.backward(gradient, inputGradient: inputGradient)
            }
            return Measurement(name: name, seconds: seconds, gflops: flops / seconds / 1e9, gbytesPerSecond: nil)
        }
        results.append(forwardBackward("linear_forward_backward_128x2000x2000",
                                       Linear(inputSize: 2000, outputSize: 2000, using: &generator),
                                       input: Tensor(shape: [128, 2000], uniformIn: -1...1, using: &generator),
                                       gradient: Tensor(shape: [128, 2000], uniformIn: -1...1, using: &generator)))
        // The study CNN's three convolutions (cnn-3block at batch 128: 1→32 on 28×28, 32→128 on
        // 14×14, 128→512 on 7×7; 3×3, padding 1), forward alone and forward with backward (the
        // first layer, on the input, needs no input gradient).
        for (inChannels, outChannels, side) in [(1, 32, 28), (32, 128, 14), (128, 512, 7)] {
            let conv = Conv2D(inputChannels: inChannels, outputChannels: outChannels, kernelSize: 3, padding: 1, bias: false, using: &generator)
            let input = Tensor(shape: [128, side, side, inChannels], uniformIn: -1...1, using: &generator)
            let gradient = Tensor(shape: [128, side, side, outChannels], uniformIn: -1...1, using: &generator)
            let shape = "128x\(inChannels)x\(side)x\(side)_to_\(outChannels)"
            let forward = time(budget: budget) { _ = conv.forward(input, mode: .inference) }
            results.append(Measurement(name: "conv2d_fwd_" + shape, seconds: forward,
                                       gflops: Double(2 * 128 * side * side * 9 * inChannels * outChannels) / forward / 1e9, gbytesPerSecond: nil))
            results.append(forwardBackward("conv2d_fwd_bwd_" + shape, conv, input: input, gradient: gradient,
                                           inputGradient: inChannels > 1 ? .needed : .notNeeded))
        }

        let parameter = Parameter(name: "p", value: Tensor(shape: [10_000_000], uniformIn: -1...1, using: &generator))
        let optimizer = AdamW(learningRate: 1e-3)
        let adam = time(budget: budget) {
            parameter.gradient.fill(0.01)
            optimizer.step([parameter])
        }
        let fillSeconds = time(budget: budget / 2) { parameter.gradient.fill(0.01) }
        let adamStep = max(adam - fillSeconds, 1e-9)
        // Reads value, gradient, two moments; writes value, gradient (zeroed), two moments.
        results.append(Measurement(name: "adamw_step_10M", seconds: adamStep, gflops: nil,
                                   gbytesPerSecond: 10_000_000 * 4 * 8 / adamStep / 1e9))

        let logits = Tensor(shape: [128, 10], uniformIn: -3...3, using: &generator)
        let labels = (0..<128).map { Int32($0 % 10) }
        let loss = SoftmaxCrossEntropy()
        let softmax = time(budget: budget / 2) { _ = loss.lossAndGradient(logits: logits, labels: labels) }
        results.append(Measurement(name: "softmax_cross_entropy_128x10", seconds: softmax, gflops: nil,
                                   gbytesPerSecond: Double(128 * 10 * 4 * 2 + 128 * 4) / softmax / 1e9))
        return results
    }
}

/// What `bpfree info` reports.
public struct InfoReport: Sendable, Codable, Equatable {
    public var environment: EnvironmentInfo
    /// The CPU's vendor and the kernel-relevant feature flags it has.
    public var cpuVendor: CPUFeatures.Vendor
    public var cpuFeatures: [String]
    public var threads: Int
    public var sgemmGflops: [String: Double]
    public var kernels: [KernelBenchmarks.Measurement]?
    /// Energy meters found on this machine.
    public var meters: [String]
    /// Meters not available, with the reason.
    public var missingMeters: [String: String]
    /// The constants of the estimate model used when no meter measures.
    public var estimateModel: EstimateMeter.Constants
    /// sgemm rates under each OpenBLAS core the CPU can run (`info --blas-cores`).
    public var coreRates: [CoreRate]?

    /// The sgemm rates of one OpenBLAS core, measured in a process started with it.
    public struct CoreRate: Sendable, Codable, Equatable {
        /// The `OPENBLAS_CORETYPE` asked for, and the core the library then reported.
        public var requested: String
        public var loaded: String
        public var sgemmGflops: [String: Double]

        enum CodingKeys: String, CodingKey { case requested, loaded, sgemmGflops = "sgemm_gflops" }

        /// A measured core.
        public init(requested: String, loaded: String, sgemmGflops: [String: Double]) {
            self.requested = requested
            self.loaded = loaded
            self.sgemmGflops = sgemmGflops
        }
    }

    /// The cores worth measuring on a CPU: one per tier up to the best it allows, and both
    /// vendors' names and Cooperlake where they apply.
    public static func candidateCores(for features: CPUFeatures) -> [String] {
        var cores = ["Prescott"]
        if features.has("avx") { cores.append("Sandybridge") }
        if features.has("avx2", "fma") { cores += ["Haswell", "Zen"] }
        if BLASCoreChoice.bestCore(for: features)?.tier == .avx512 {
            cores.append("SkylakeX")
            if features.has("avx512_bf16") { cores.append("Cooperlake") }
        }
        return cores
    }

    enum CodingKeys: String, CodingKey {
        case cpuVendor = "cpu_vendor", cpuFeatures = "cpu_features", coreRates = "core_rates"
        case environment, threads, sgemmGflops = "sgemm_gflops", kernels, meters
        case missingMeters = "missing_meters", estimateModel = "estimate_model"
    }

    /// Measures this machine with `threads` threads; `kernels` adds the hot-kernel timings.
    public static func measure(threads: Int, kernels: Bool, budget: Double = 0.5,
                               measurement: MeasurementConfiguration = .init()) -> InfoReport {
        Parallel.threads = threads
        let rates = [
            "128x2000x2000": KernelBenchmarks.sgemmRate(m: 128, n: 2000, k: 2000, budget: budget),
            "2048x2048x2048": KernelBenchmarks.sgemmRate(m: 2048, n: 2048, k: 2048, budget: budget),
        ]
        let found = MeterDiscovery.discover(estimate: measurement.estimateConstants, raplRoot: measurement.raplRoot,
                                            nvmlLibrary: measurement.nvmlLibrary)
        let features = CPUFeatures.current()
        return InfoReport(environment: .current(), cpuVendor: features.vendor, cpuFeatures: features.kernelFlagsPresent,
                          threads: threads, sgemmGflops: rates,
                          kernels: kernels ? KernelBenchmarks.hotKernels(budget: budget) : nil,
                          meters: found.meters.filter(\.isMeasurement).map(\.name),
                          missingMeters: Dictionary(uniqueKeysWithValues: found.missing.map { ($0.meter, $0.reason) }),
                          estimateModel: measurement.estimateConstants)
    }

    /// The human-readable form.
    public var text: String {
        var lines = [
            "CPU:      \(environment.cpuModel) (\(environment.cores) cores)",
            "OS:       \(environment.operatingSystem)",
            "Swift:    \(environment.swiftVersion)",
            "Features: \(cpuFeatures.joined(separator: " ")) (\(cpuVendor.rawValue))",
            "BLAS:     \(environment.blas)",
            "Kernel:   \(environment.blasCore), chosen by \(environment.blasCoreChoice.map { "\($0.chosenBy): \($0.reason)" } ?? "the library")",
            "Convolutions: \(environment.convolution ?? "unknown")",
            "Threads:  \(threads) (BLAS, oneDNN and kernels)",
            "sgemm:",
        ]
        for key in sgemmGflops.keys.sorted() {
            lines.append("  \(key.padding(toLength: 16, withPad: " ", startingAt: 0)) \(format("%8.1f", sgemmGflops[key]!)) GFLOP/s")
        }
        if let coreRates, let best = coreRates.max(by: { ($0.sgemmGflops["2048x2048x2048"] ?? 0) < ($1.sgemmGflops["2048x2048x2048"] ?? 0) }),
           let bestRate = best.sgemmGflops["2048x2048x2048"], bestRate > 0 {
            lines.append("sgemm by OpenBLAS core (each measured in its own process):")
            for rate in coreRates {
                let cells = rate.sgemmGflops.keys.sorted().map { "\($0) \(format("%6.1f", rate.sgemmGflops[$0]!))" }.joined(separator: "  ")
                let name = rate.requested == rate.loaded ? rate.loaded : "\(rate.requested) (ran \(rate.loaded))"
                lines.append("  \(name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(cells) GFLOP/s")
            }
            // The core in use, as measured among the others (the same way, minutes apart at most).
            let own = coreRates.first { $0.loaded == environment.blasCore }?.sgemmGflops["2048x2048x2048"] ?? sgemmGflops["2048x2048x2048"] ?? 0
            lines.append("  in use: \(environment.blasCore), \(format("%.1f", own)) GFLOP/s at 2048³ = \(format("%.0f", 100 * own / bestRate))% of the best (\(best.loaded), \(format("%.1f", bestRate)))")
        }
        if let kernels {
            lines.append("Kernels:")
            for k in kernels {
                var rate = ""
                if let gflops = k.gflops { rate = "\(format("%8.1f", gflops)) GFLOP/s" }
                if let gbytes = k.gbytesPerSecond { rate = "\(format("%8.1f", gbytes)) GB/s" }
                lines.append("  \(k.name.padding(toLength: 40, withPad: " ", startingAt: 0)) \(format("%10.3f", k.seconds * 1e3)) ms  \(rate)")
            }
        }
        lines.append("Energy meters: \(meters.isEmpty ? "none (energy is estimated)" : meters.joined(separator: ", "))")
        for (meter, reason) in missingMeters.sorted(by: { $0.key < $1.key }) { lines.append("  missing \(meter): \(reason)") }
        lines.append("Estimate model (used only when no meter measures; labelled 'estimate'):")
        lines.append("  CPU: \(format("%.1f", estimateModel.cpuTDPWatts)) W TDP × process CPU utilisation over \(estimateModel.logicalCPUs) logical CPUs (default 4 W each; --cpu-tdp-watts)")
        lines.append("  memory: \(format("%.3f", estimateModel.memoryWattsPerGiB)) W per GiB resident")
        lines.append("  CO2e: world average \(format("%.0f", CarbonIntensity.worldAverage.gramsPerKWh)) g/kWh unless --country or --carbon-intensity")
        return lines.joined(separator: "\n")
    }
}
