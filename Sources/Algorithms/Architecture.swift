import NeuralNetwork
import TensorCore

/// A network shape named on the command line: `mlp-2x1000` (A hidden layers of B units, the
/// study's presets being 2x1000, 3x1000, 3x2000 and 4x2000), `mlp:W1,W2,…`, `cnn-3block`
/// (the study's CNN: 32/128/512 channels) or `cnn:C1,C2,…`.
public enum Architecture: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A ReLU MLP with these hidden widths.
    case mlp(hiddenWidths: [Int])
    /// Blocks of Conv3x3 (stride 1, padding 1, no bias) → ReLU → MaxPool 2x2/2 → BatchNorm,
    /// with these output channels.
    case cnn(channels: [Int])

    /// The presets of the study (protocol §1).
    public static let presets = ["mlp-2x1000", "mlp-3x1000", "mlp-3x2000", "mlp-4x2000", "cnn-3block"]
    /// The channels of `cnn-3block`.
    public static let studyCNNChannels = [32, 128, 512]
    /// The most layers (hidden layers or blocks) and the widest layer (units or channels) a
    /// name may ask for: far past any network that fits in memory (the memory estimate refuses
    /// those with their size), short of sizes that could not even be counted.
    public static let maximumDepth = 1000, maximumWidth = 1 << 24

    /// Parses a name; the error names the field and lists the accepted forms.
    public init(parsing text: String) throws {
        let forms = "expected one of \(Architecture.presets.joined(separator: ", ")), mlp-AxB, mlp:W1,W2,... or cnn:C1,C2,..."
        if text == "cnn-3block" {
            self = .cnn(channels: Self.studyCNNChannels)
            return
        }
        if text.hasPrefix("cnn:") {
            let parts = text.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false)
            let channels = parts.compactMap { Int($0.trimmingPrefix(" ")) }
            guard !parts.isEmpty, channels.count == parts.count, channels.allSatisfy({ $0 > 0 }) else {
                throw ConfigurationError(field: "--architecture", problem: "'\(text)' has a channel count that is not a positive integer; \(forms)")
            }
            self = .cnn(channels: try Self.bounded(channels, text))
            return
        }
        if text.hasPrefix("mlp:") {
            let parts = text.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false)
            let widths = parts.compactMap { Int($0.trimmingPrefix(" ")) }
            guard !parts.isEmpty, widths.count == parts.count, widths.allSatisfy({ $0 > 0 }) else {
                throw ConfigurationError(field: "--architecture", problem: "'\(text)' has a width that is not a positive integer; \(forms)")
            }
            self = .mlp(hiddenWidths: try Self.bounded(widths, text))
            return
        }
        if text.hasPrefix("mlp-") {
            let parts = text.dropFirst(4).split(separator: "x")
            if parts.count == 2, let depth = Int(parts[0]), let width = Int(parts[1]), depth > 0, width > 0 {
                self = .mlp(hiddenWidths: try Self.bounded(Array(repeating: width, count: min(depth, Self.maximumDepth + 1)), text))
                return
            }
        }
        throw ConfigurationError(field: "--architecture", problem: "unknown architecture '\(text)'; \(forms)")
    }

    /// Refuses a shape past `maximumDepth` layers or `maximumWidth` units.
    private static func bounded(_ sizes: [Int], _ text: String) throws -> [Int] {
        guard sizes.count <= maximumDepth, sizes.allSatisfy({ $0 <= maximumWidth }) else {
            throw ConfigurationError(field: "--architecture", problem: "'\(text)' is too large: at most \(maximumDepth) layers of at most \(maximumWidth) units or channels")
        }
        return sizes
    }

    public var description: String {
        switch self {
        case .mlp(let widths):
            if let first = widths.first, widths.allSatisfy({ $0 == first }) { return "mlp-\(widths.count)x\(first)" }
            return "mlp:" + widths.map(String.init).joined(separator: ",")
        case .cnn(let channels):
            return channels == Self.studyCNNChannels ? "cnn-3block" : "cnn:" + channels.map(String.init).joined(separator: ",")
        }
    }

    /// A sample shape as C×H×W (a 2-D shape has one channel); nil for other ranks.
    public static func imageShape(_ shape: [Int]) -> (channels: Int, height: Int, width: Int)? {
        switch shape.count {
        case 3: (shape[0], shape[1], shape[2])
        case 2: (1, shape[0], shape[1])
        default: nil
        }
    }

    /// The convolutional blocks of a `cnn` architecture (each Conv → ReLU → MaxPool → BatchNorm;
    /// the first also turns the channel-major samples into channels-last maps) and the
    /// flattened feature size after each block. `batchNormEpsilon` is PyTorch's 1e-5 for BP, the
    /// official CaFo code's 1e-4 there; `trainBatchNorm` says whether γ and β are parameters.
    public func makeBlocks(inputShape: [Int], batchNormEpsilon: Float = 1e-5, trainBatchNorm: Bool = true,
                           convolutionInit: WeightInit = .pytorch,
                           using generator: inout SeededGenerator) throws -> (blocks: [Sequential], featureSizes: [Int]) {
        guard case .cnn(let channels) = self else { preconditionFailure("makeBlocks on an MLP") }
        guard let (c, h, w) = Self.imageShape(inputShape) else {
            throw ConfigurationError(field: "--architecture", problem: "\(self) needs image samples (C×H×W), not samples of shape \(inputShape)")
        }
        var (inChannels, height, width) = (c, h, w)
        var blocks: [Sequential] = [], sizes: [Int] = []
        for (index, out) in channels.enumerated() {
            guard height >= 2, width >= 2 else {
                throw ConfigurationError(field: "--architecture", problem: "\(self): block \(index + 1) gets \(height)×\(width) maps, too small to pool")
            }
            var layers: [any Layer] = index == 0 ? [ChannelsLast(channels: c, height: h, width: w)] : []
            layers += [
                Conv2D(inputChannels: inChannels, outputChannels: out, kernelSize: 3, stride: 1, padding: 1, bias: false,
                       initialisation: convolutionInit, name: "block\(index + 1).conv", using: &generator),
                ReLU(), MaxPool2D(),
                BatchNorm2D(channels: out, epsilon: batchNormEpsilon, affineTrained: trainBatchNorm, name: "block\(index + 1).bn"),
            ]
            blocks.append(Sequential(layers))
            (inChannels, height, width) = (out, height / 2, width / 2)
            sizes.append(out * height * width)
        }
        return (blocks, sizes)
    }

    /// Each block's output map of a `cnn` architecture, H×W×C (each block halves H and W).
    public func featureMaps(inputShape: [Int]) -> [(height: Int, width: Int, channels: Int)] {
        guard case .cnn(let channels) = self, let (_, height, width) = Self.imageShape(inputShape) else { return [] }
        var (h, w) = (height, width)
        return channels.map { out in
            (h, w) = (h / 2, w / 2)
            return (h, w, out)
        }
    }

    /// The BP network of this shape: Flatten → [Linear → ReLU]* → Linear to the classes, or
    /// the CNN blocks → Flatten → Linear to the classes. `initialisation` `.study` starts it as
    /// the study's models did: its MLP (`MF_MLP`) with hidden weights U(±√(6/fan_in)), zero
    /// biases and output weights N(0, 0.01²); its CNN (`CaFo_CNN`) with Kaiming-uniform
    /// convolutions and PyTorch's output layer.
    public func makeNetwork(inputShape: [Int], classCount: Int, initialisation: Initialisation = .pytorch,
                            using generator: inout SeededGenerator) throws -> Sequential {
        switch self {
        case .cnn:
            let (blocks, sizes) = try makeBlocks(inputShape: inputShape, convolutionInit: initialisation.reluLayers, using: &generator)
            let output = Linear(inputSize: sizes.last!, outputSize: classCount, name: "output", using: &generator)
            output.inputMap = featureMaps(inputShape: inputShape).last
            return Sequential(blocks + [Flatten(), output])
        case .mlp(let widths):
            var layers: [any Layer] = [Flatten()]
            var width = inputShape.reduce(1, *)
            for (index, next) in widths.enumerated() {
                layers.append(Linear(inputSize: width, outputSize: next, initialisation: initialisation.reluLayers,
                                     name: "layer\(index + 1)", using: &generator))
                layers.append(ReLU())
                width = next
            }
            layers.append(Linear(inputSize: width, outputSize: classCount, initialisation: initialisation == .study ? .normal(standardDeviation: 0.01) : .pytorch,
                                 name: "output", using: &generator))
            return Sequential(layers)
        }
    }
}

/// How an algorithm's network starts: PyTorch's default layers, or as the study's code started
/// it (protocol `seed-paper`; each algorithm says what that is).
public enum Initialisation: String, Sendable {
    case pytorch
    case study

    /// How the layers ahead of a ReLU start: the study's models used Kaiming-uniform for ReLU.
    public var reluLayers: WeightInit { self == .study ? .kaimingReLU : .pytorch }
}

/// A bad setting: names the flag or field and what is wrong with it.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Codable {
    public let field: String
    public let problem: String

    /// An error about `field`.
    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(field): \(problem)" }
}
