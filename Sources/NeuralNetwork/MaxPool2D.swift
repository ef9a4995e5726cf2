import TensorCore

/// 2×2 max pooling with stride 2 (floor mode) over channels-last feature maps; backward routes
/// each gradient to the position that won its window.
public final class MaxPool2D: Layer {
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    /// For each output element, which of its window's four inputs won (0 top-left, 1 top-right,
    /// 2 bottom-left, 3 bottom-right).
    private var winners: [UInt8] = []
    /// The winners on a device, as float codes 0–3.
    private var winnerCodes = Tensor(zeros: [0])
    private var inputShape: [Int] = []
    private var hasCache = false

    /// A 2×2/2 pooling layer.
    public init() {}

    /// Output rows (of all images) per parallel chunk: about 2¹⁶ input values each.
    private static func grain(rowLength: Int) -> Int { max(1, 65_536 / max(rowLength, 1)) }

    /// Shapes: input N×H×W×C → output N×⌊H/2⌋×⌊W/2⌋×C.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 4, "MaxPool2D: input \(x.shape) is not N×H×W×C")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (h / 2, w / 2)
        precondition(ho > 0 && wo > 0, "MaxPool2D: input \(x.shape) is smaller than 2×2")
        inputShape = x.shape
        let keep = mode == .training
        hasCache = keep
        if x.backend != nil {
            DeviceLayerKernels.maxPoolForward(x, into: &output, winners: &winnerCodes, keep: keep)
            return output
        }
        output.resize(to: [n, ho, wo, c])
        if keep, winners.count < output.count { winners = [UInt8](repeating: 0, count: output.count) }
        x.withUnsafePointer { src in
            output.withUnsafeMutablePointer { dst in
                winners.withUnsafeMutableBufferPointer { win in
                    let (source, target, codes) = (SharedPointer(src), SharedPointer(dst), SharedPointer(win.baseAddress!))
                    Parallel.forEachChunk(count: n * ho, grain: Self.grain(rowLength: 4 * wo * c)) { rows in
                        for row in rows {
                            let (image, oy) = row.quotientAndRemainder(dividingBy: ho)
                            for ox in 0..<wo {
                                let out = (row * wo + ox) * c
                                let a = source.pointer + ((image * h + 2 * oy) * w + 2 * ox) * c
                                let (b, d) = (a + c, a + w * c)
                                let e = d + c
                                let y = target.pointer + out
                                if keep {
                                    // The first maximum in row-major window order wins (as PyTorch).
                                    let code = codes.pointer + out
                                    for channel in 0..<c {
                                        var best = a[channel], winner: UInt8 = 0
                                        if b[channel] > best { best = b[channel]; winner = 1 }
                                        if d[channel] > best { best = d[channel]; winner = 2 }
                                        if e[channel] > best { best = e[channel]; winner = 3 }
                                        y[channel] = best
                                        code[channel] = winner
                                    }
                                } else {
                                    for channel in 0..<c { y[channel] = max(max(a[channel], b[channel]), max(d[channel], e[channel])) }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Every input position gets its window's gradient if it won, else 0 (one pass, no scatter).
    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "MaxPool2D.backward without a training-mode forward")
        hasCache = false
        guard inputGradient == .needed else { return nil }
        if g.backend != nil {
            DeviceLayerKernels.maxPoolBackward(g, winners: winnerCodes, inputShape: inputShape, into: &inputGradientBuffer)
            return inputGradientBuffer
        }
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (ho, wo) = (h / 2, w / 2)
        inputGradientBuffer.resize(to: inputShape)
        g.withUnsafePointer { gp in
            inputGradientBuffer.withUnsafeMutablePointer { dx in
                winners.withUnsafeBufferPointer { win in
                    let (gradient, target, codes) = (SharedPointer(gp), SharedPointer(dx), SharedPointer(win.baseAddress!))
                    Parallel.forEachChunk(count: n * ho, grain: Self.grain(rowLength: 4 * wo * c)) { rows in
                        for row in rows {
                            let (image, oy) = row.quotientAndRemainder(dividingBy: ho)
                            let top = target.pointer + (image * h + 2 * oy) * w * c
                            for ox in 0..<wo {
                                let out = (row * wo + ox) * c
                                let (gr, code) = (gradient.pointer + out, codes.pointer + out)
                                let a = top + 2 * ox * c
                                let (b, d) = (a + c, a + w * c)
                                let e = d + c
                                for channel in 0..<c {
                                    let (value, winner) = (gr[channel], code[channel])
                                    a[channel] = winner == 0 ? value : 0
                                    b[channel] = winner == 1 ? value : 0
                                    d[channel] = winner == 2 ? value : 0
                                    e[channel] = winner == 3 ? value : 0
                                }
                            }
                            // Inputs no window covers (floor mode: an odd last column or row) get 0.
                            if w % 2 == 1 {
                                (top + (w - 1) * c).update(repeating: 0, count: c)
                                (top + (2 * w - 1) * c).update(repeating: 0, count: c)
                            }
                            if h % 2 == 1, oy == ho - 1 { (top + 2 * w * c).update(repeating: 0, count: w * c) }
                        }
                    }
                }
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
        if x.backend != nil {
            DeviceLayerKernels.channelsLast(x, channels: channels, height: height, width: width, into: &output)
            return output
        }
        Self.permute(x, into: &output, n: n, from: [channels, height * width])
        return output.reshaped([n, height, width, channels])
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        guard inputGradient == .needed else { return nil }
        let n = g.rows
        guard channels > 1 else { return g.reshaped([n, channels * height * width]) }
        if g.backend != nil {
            DeviceLayerKernels.channelsFirst(g, into: &inputGradientBuffer)
            return inputGradientBuffer
        }
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
