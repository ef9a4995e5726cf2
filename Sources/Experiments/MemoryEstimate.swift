import Algorithms
import Foundation

/// What a run's model needs in memory, estimated from its shape before anything is allocated,
/// so that a configuration that cannot fit is refused at once instead of failing (or swapping)
/// after its data has loaded.
public struct MemoryEstimate: Sendable, Equatable {
    /// Trainable parameters of the architecture (an algorithm's own extras, e.g. MF's
    /// projections, are small beside them).
    public let parameters: Int
    /// Activation values of one training batch.
    public let activations: Int

    /// Bytes: per parameter its value, gradient, two Adam moments and a best checkpoint; per
    /// activation the value kept for backward, its gradient and the layers' buffers (6 floats).
    public var bytes: Double { 4 * (5 * Double(parameters) + 6 * Double(activations)) }

    /// The estimate for `architecture` on samples of `inputShape` at `batchSize`.
    public init(_ architecture: Architecture, inputShape: [Int], classCount: Int, batchSize: Int) {
        var parameters = 0.0, activations = 0.0
        switch architecture {
        case .mlp(let hiddenWidths):
            let widths = [inputShape.reduce(1, *)] + hiddenWidths + [classCount]
            for (a, b) in zip(widths, widths.dropFirst()) { parameters += Double(a) * Double(b) + Double(b) }
            activations = Double(batchSize) * Double(widths.reduce(0, +))
        case .cnn(let channels):
            let (c, h, w) = Architecture.imageShape(inputShape) ?? (1, inputShape.reduce(1, *), 1)
            var (inChannels, height, width) = (c, h, w)
            activations = Double(batchSize) * Double(c * h * w)
            for out in channels {
                parameters += Double(out * inChannels * 9 + 2 * out)
                // conv and ReLU outputs at full size, pooled and normalised ones at a quarter.
                activations += Double(batchSize) * Double(height * width * out) * 2.5
                (inChannels, height, width) = (out, height / 2, width / 2)
            }
            parameters += Double(inChannels * height * width * classCount + classCount)
        }
        self.parameters = Int(min(parameters, Double(Int.max / 64)))
        self.activations = Int(min(activations, Double(Int.max / 64)))
    }

    /// The memory the system can still give (MemAvailable of /proc/meminfo), nil when unknown.
    public static func availableBytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Double(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// Refuses the run when the estimate exceeds the memory available.
    public func check(architecture: Architecture, batchSize: Int, available: Double? = availableBytes()) throws {
        guard let available, bytes > available else { return }
        let gib = { (bytes: Double) in String(format: "%.1f GiB", bytes / 1_073_741_824) }
        throw ConfigurationError(field: "--architecture", problem: "\(architecture) at batch \(batchSize) needs about \(gib(bytes)) "
            + "(\(parameters.formatted()) parameters with gradients, Adam moments and a checkpoint; \(activations.formatted()) activations "
            + "per batch), but only \(gib(available)) are available; use a smaller network or batch")
    }
}
