import TensorCore

/// 2×2 max pooling with stride 2 (floor mode) over channels-last feature maps; backward routes
/// each gradient to the position that won its window.
public final class MaxPool2D: Layer {
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    /// For each output element, the flat index of its input maximum.
    private var winners: [Int32] = []
    private var inputShape: [Int] = []
    private var hasCache = false

    /// A 2×2/2 pooling layer.
    public init() {}

    /// Shapes: input N×H×W×C → output N×⌊H/2⌋×⌊W/2⌋×C.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 4, "MaxPool2D: input \(x.shape) is not N×H×W×C")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (h / 2, w / 2)
        precondition(ho > 0 && wo > 0, "MaxPool2D: input \(x.shape) is smaller than 2×2")
        inputShape = x.shape
        output.resize(to: [n, ho, wo, c])
        let keep = mode == .training
        if keep, winners.count != output.count { winners = [Int32](repeating: 0, count: output.count) }
        x.withUnsafePointer { src in
            output.withUnsafeMutablePointer { dst in
                winners.withUnsafeMutableBufferPointer { win in
                    for image in 0..<n {
                        for oy in 0..<ho {
                            for ox in 0..<wo {
                                let out = ((image * ho + oy) * wo + ox) * c
                                let topLeft = ((image * h + 2 * oy) * w + 2 * ox) * c
                                for channel in 0..<c {
                                    // The first maximum in row-major window order wins (as PyTorch).
                                    var best = topLeft + channel
                                    let (right, below) = (best + c, best + w * c)
                                    if src[right] > src[best] { best = right }
                                    if src[below] > src[best] { best = below }
                                    if src[below + c] > src[best] { best = below + c }
                                    dst[out + channel] = src[best]
                                    if keep { win[out + channel] = Int32(best) }
                                }
                            }
                        }
                    }
                }
            }
        }
        hasCache = keep
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "MaxPool2D.backward without a training-mode forward")
        hasCache = false
        guard inputGradient == .needed else { return nil }
        inputGradientBuffer.resize(to: inputShape)
        inputGradientBuffer.fill(0)
        g.withUnsafePointer { gp in
            inputGradientBuffer.withUnsafeMutablePointer { dx in
                for (index, winner) in winners.prefix(g.count).enumerated() { dx[Int(winner)] += gp[index] }
            }
        }
        return inputGradientBuffer
    }
}

/// Turns samples stored channel-major (C×H×W rows, as the datasets hold them) into the
/// channels-last N×H×W×C maps the convolutions use; backward turns gradients back.
public final class ChannelsLast: Layer {
    public let channels: Int
    public let height: Int
    public let width: Int
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])

    /// A layer for samples of shape C×H×W.
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// Shapes: input N×(C·H·W) → output N×H×W×C.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let n = x.rows
        precondition(x.count == n * channels * height * width, "ChannelsLast: input \(x.shape) is not N×\(channels)×\(height)×\(width)")
        guard channels > 1 else { return x.reshaped([n, height, width, 1]) }
        Self.permute(x, into: &output, n: n, from: [channels, height * width])
        return output.reshaped([n, height, width, channels])
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        guard inputGradient == .needed else { return nil }
        let n = g.rows
        guard channels > 1 else { return g.reshaped([n, channels * height * width]) }
        Self.permute(g, into: &inputGradientBuffer, n: n, from: [height * width, channels])
        return inputGradientBuffer.reshaped([n, channels * height * width])
    }

    /// Transposes each sample's a×b matrix to b×a.
    static func permute(_ x: Tensor, into y: inout Tensor, n: Int, from extents: [Int]) {
        let (a, b) = (extents[0], extents[1])
        y.resize(to: [n, a * b])
        x.withUnsafePointer { src in
            y.withUnsafeMutablePointer { dst in
                for sample in 0..<n {
                    let (s, d) = (src + sample * a * b, dst + sample * a * b)
                    for i in 0..<a { for j in 0..<b { d[j * a + i] = s[i * b + j] } }
                }
            }
        }
    }
}
