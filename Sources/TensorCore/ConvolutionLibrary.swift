/// A convolution of one geometry over one input extent: what a device's convolution library
/// plans and times.
public struct ConvolutionShape: Hashable, Sendable, CustomStringConvertible {
    public let batch, height, width, inputChannels, outputChannels, kernelSize, stride, padding: Int

    public init(batch: Int, height: Int, width: Int, inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int) {
        (self.batch, self.height, self.width, self.inputChannels) = (batch, height, width, inputChannels)
        (self.outputChannels, self.kernelSize, self.stride, self.padding) = (outputChannels, kernelSize, stride, padding)
    }

    public var outputHeight: Int { (height + 2 * padding - kernelSize) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernelSize) / stride + 1 }
    /// 2·N·Ho·Wo·O·k²·C: each pass's FLOPs.
    public var flops: Int { 2 * batch * outputHeight * outputWidth * outputChannels * kernelSize * kernelSize * inputChannels }

    /// e.g. "128×28×28×1 → 32, 3×3 stride 1 padding 1".
    public var description: String {
        "\(batch)×\(height)×\(width)×\(inputChannels) → \(outputChannels), \(kernelSize)×\(kernelSize) stride \(stride) padding \(padding)"
    }
}

/// The three passes of a convolution. Each has the same three operands, x (N×H×W×C), w
/// (O×k·k·C) and y (N×Ho×Wo×O), and writes one: the forward pass `y = x ⊛ w`, the input
/// gradient `x = y ⊛ᵀ w` (y holding the output's gradient), the weight gradient `w += xᵀ ⊛ y`
/// (accumulated).
public enum ConvolutionPass: String, CaseIterable, Sendable {
    case forward, backwardData = "backward-data", backwardWeights = "backward-weights"
}

/// One of a library's algorithms for a pass: its code in the library, its name and the
/// workspace it needs.
public struct ConvolutionAlgorithm: Sendable, Equatable {
    public let code: Int32
    public let name: String
    public let workspaceBytes: Int

    public init(code: Int32, name: String, workspaceBytes: Int) {
        (self.code, self.name, self.workspaceBytes) = (code, name, workspaceBytes)
    }
}

/// How a pass of a shape runs on a device, and the times that chose it.
public struct ConvolutionChoice: Sendable, Equatable {
    public let shape: ConvolutionShape
    public let pass: ConvolutionPass
    /// The library's fastest algorithm (nil when none runs).
    public let algorithm: ConvolutionAlgorithm?
    /// Whether the pass runs by `algorithm`; else by `ConvolutionKernel`'s own lowering (im2col
    /// and a matrix product).
    public let usesLibrary: Bool
    /// Device milliseconds per pass of the lowering and of `algorithm`, as measured (nil where
    /// not measured: a route asked for by name, or no algorithm ran).
    public let loweredMilliseconds: Double?
    public let libraryMilliseconds: Double?

    public init(shape: ConvolutionShape, pass: ConvolutionPass, algorithm: ConvolutionAlgorithm?, usesLibrary: Bool,
                loweredMilliseconds: Double?, libraryMilliseconds: Double?) {
        precondition(!usesLibrary || algorithm != nil, "ConvolutionChoice: the library without an algorithm")
        (self.shape, self.pass, self.algorithm, self.usesLibrary) = (shape, pass, algorithm, usesLibrary)
        (self.loweredMilliseconds, self.libraryMilliseconds) = (loweredMilliseconds, libraryMilliseconds)
    }
}

/// A device's convolution library (cuDNN on an NVIDIA GPU), which `ConvolutionKernel` uses for
/// a pass when it is faster there than its own lowering, or always when `measures` is false
/// (the user asked for the library by name).
public protocol ConvolutionLibrary: AnyObject {
    /// Whether each pass is timed against the lowering before the library is used for it.
    var measures: Bool { get }
    /// The library's fastest deterministic algorithm for `pass` over `shape`, as it times its
    /// algorithms on the device with the operands given (which it overwrites), or nil when none runs.
    func fastestAlgorithm(for pass: ConvolutionPass, _ shape: ConvolutionShape, x: UInt64, w: UInt64, y: UInt64) -> ConvolutionAlgorithm?
    /// Queues `pass` over `shape` with `algorithm` (see `ConvolutionPass` for what it writes).
    func run(_ pass: ConvolutionPass, _ shape: ConvolutionShape, _ algorithm: ConvolutionAlgorithm, x: UInt64, w: UInt64, y: UInt64)
    /// The choice made for `pass` over `shape` on this device (by any kernel, or kept from an
    /// earlier process), if any.
    func choice(for pass: ConvolutionPass, _ shape: ConvolutionShape) -> ConvolutionChoice?
    /// Keeps `choice` for the kernels that meet the same pass and shape, and for the run record;
    /// returns the choice to follow (one kept meanwhile by another process wins).
    func note(_ choice: ConvolutionChoice) -> ConvolutionChoice
}
