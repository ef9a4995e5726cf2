import NeuralNetwork
import TensorCore

/// A network shape named on the command line: `mlp-2x1000` (A hidden layers of B units, the
/// study's presets being 2x1000, 3x1000, 3x2000 and 4x2000) or `mlp:W1,W2,…`.
public enum Architecture: Sendable, Equatable, CustomStringConvertible {
    /// A ReLU MLP with these hidden widths.
    case mlp(hiddenWidths: [Int])

    /// The presets of the study (protocol §1).
    public static let presets = ["mlp-2x1000", "mlp-3x1000", "mlp-3x2000", "mlp-4x2000"]

    /// Parses a name; the error names the field and lists the accepted forms.
    public init(parsing text: String) throws {
        let forms = "expected one of \(Architecture.presets.joined(separator: ", ")), mlp-AxB or mlp:W1,W2,..."
        if text.hasPrefix("mlp:") {
            let parts = text.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false)
            let widths = parts.compactMap { Int($0.trimmingPrefix(" ")) }
            guard !parts.isEmpty, widths.count == parts.count, widths.allSatisfy({ $0 > 0 }) else {
                throw ConfigurationError(field: "--architecture", problem: "'\(text)' has a width that is not a positive integer; \(forms)")
            }
            self = .mlp(hiddenWidths: widths)
            return
        }
        if text.hasPrefix("mlp-") {
            let parts = text.dropFirst(4).split(separator: "x")
            if parts.count == 2, let depth = Int(parts[0]), let width = Int(parts[1]), depth > 0, width > 0 {
                self = .mlp(hiddenWidths: Array(repeating: width, count: depth))
                return
            }
        }
        throw ConfigurationError(field: "--architecture", problem: "unknown architecture '\(text)'; \(forms)")
    }

    public var description: String {
        switch self {
        case .mlp(let widths):
            if let first = widths.first, widths.allSatisfy({ $0 == first }) { return "mlp-\(widths.count)x\(first)" }
            return "mlp:" + widths.map(String.init).joined(separator: ",")
        }
    }

    /// The BP network of this shape: Flatten → [Linear → ReLU]* → Linear to the classes.
    public func makeNetwork(inputSize: Int, classCount: Int, using generator: inout SeededGenerator) -> Sequential {
        switch self {
        case .mlp(let widths):
            var layers: [any Layer] = [Flatten()]
            var width = inputSize
            for (index, next) in widths.enumerated() {
                layers.append(Linear(inputSize: width, outputSize: next, name: "layer\(index + 1)", using: &generator))
                layers.append(ReLU())
                width = next
            }
            layers.append(Linear(inputSize: width, outputSize: classCount, name: "output", using: &generator))
            return Sequential(layers)
        }
    }
}

/// A bad setting: names the flag or field and what is wrong with it.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let problem: String

    /// An error about `field`.
    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(field): \(problem)" }
}
