import TensorCore

/// One named tensor of a model's state: a parameter's value, or state not trained by gradient
/// (batch-norm running statistics, a frozen block). Checkpoints read and write it in bpfree's
/// own layout; saved models hold its `portable` form, PyTorch's layout.
public struct StateTensor {
    /// How bpfree's layout of a tensor differs from PyTorch's.
    public enum Layout: Equatable, Sendable {
        /// The same in both (biases, MLP weights, batch-norm vectors).
        case same
        /// A convolution's kernels: bpfree's O×(kh·kw·C), rows in (ky, kx, c) order, against
        /// PyTorch's O×C×kh×kw.
        case convolution(inputChannels: Int, kernelSize: Int)
        /// A dense weight reading a flattened H×W×C (channels-last) map: bpfree's columns in
        /// (h, w, c) order against PyTorch's flattened C×H×W, (c, h, w).
        case channelsLastColumns(height: Int, width: Int, channels: Int)
    }

    /// The name within the model, e.g. "block1.conv.weight" or "block1.bn.running_mean".
    public let name: String
    public let layout: Layout
    private let read: () -> Tensor
    private let write: (Tensor) -> Void

    /// A state tensor read and written through closures (bpfree's layout).
    public init(name: String, layout: Layout = .same, read: @escaping () -> Tensor, write: @escaping (Tensor) -> Void) {
        self.name = name
        self.layout = layout
        self.read = read
        self.write = write
    }

    /// A parameter's value.
    public init(_ parameter: Parameter, layout: Layout = .same) {
        self.init(name: parameter.name, layout: layout, read: { parameter.value }, write: { parameter.value = $0 })
    }

    /// The tensor in bpfree's layout (shares storage with the model until either changes).
    public var value: Tensor {
        get { read() }
        nonmutating set {
            precondition(newValue.shape == read().shape, "\(name): \(newValue.shape) for \(read().shape)")
            write(newValue)
        }
    }

    /// The shape in PyTorch's layout.
    public var portableShape: [Int] {
        let shape = read().shape
        switch layout {
        case .same, .channelsLastColumns: return shape
        case .convolution(let c, let k): return [shape[0], c, k, k]
        }
    }

    /// The tensor in PyTorch's layout; setting it converts back.
    public var portableValue: Tensor {
        get {
            let native = read()
            return Tensor(shape: portableShape, scalars: Self.permute(native.scalars, layout, toPortable: true))
        }
        nonmutating set {
            precondition(newValue.shape == portableShape, "\(name): \(newValue.shape) for \(portableShape)")
            write(Tensor(shape: read().shape, scalars: Self.permute(newValue.scalars, layout, toPortable: false)))
        }
    }

    /// Reorders the columns of each row between the two layouts: within a row, bpfree's index
    /// `(a·B + b)·C + c` is PyTorch's `(c·A + a)·B + b` (A, B the spatial extents, C channels).
    static func permute(_ scalars: [Float], _ layout: Layout, toPortable: Bool) -> [Float] {
        let (a, b, c): (Int, Int, Int)
        switch layout {
        case .same: return scalars
        case .convolution(let channels, let k): (a, b, c) = (k, k, channels)
        case .channelsLastColumns(let h, let w, let channels): (a, b, c) = (h, w, channels)
        }
        let width = a * b * c
        precondition(scalars.count % width == 0, "StateTensor: \(scalars.count) scalars in rows of \(width)")
        var result = [Float](repeating: 0, count: scalars.count)
        for row in stride(from: 0, to: scalars.count, by: width) {
            for i in 0..<a { for j in 0..<b { for k in 0..<c {
                let native = row + (i * b + j) * c + k, portable = row + (k * a + i) * b + j
                if toPortable { result[portable] = scalars[native] } else { result[native] = scalars[portable] }
            } } }
        }
        return result
    }
}
