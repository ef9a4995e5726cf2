import TensorCore

/// Random transformations of training batches, applied in place, seeded, without per-sample
/// allocation.
public enum Augmentation: String, Sendable {
    /// Random 32×32 crop of the 4-pixel reflect-padded image and a horizontal flip with p = 0.5
    /// (protocol §2, CIFAR).
    case cropAndFlip

    /// Reflect padding of the crop, in pixels.
    static let pad = 4

    /// Sample `row`'s crop offsets (each in −4…4) and flip, from counter-based draws 3·row,
    /// 3·row + 1 and 3·row + 2 of `key` (`crop_flip` in random.cu draws the same on a device).
    public static func draw(row: Int, key: UInt64) -> (dy: Int, dx: Int, flip: Bool) {
        func offset(_ index: Int) -> Int {
            Int((CounterRandom.unitFloat(key: key, index: UInt64(index)) * Float(2 * pad + 1)).rounded(.down)) - pad
        }
        return (offset(3 * row), offset(3 * row + 1), CounterRandom.unitFloat(key: key, index: UInt64(3 * row + 2)) < 0.5)
    }

    /// Transforms every sample of `inputs` in place, with the draws of `key` (one per batch from
    /// the run's seeded generator): on a device, drawn and moved there. `scratch` keeps its
    /// storage between calls (one sample on the host, the batch on a device).
    /// Shapes: inputs N×(C·H·W) with `sampleShape` [C, H, W].
    public func apply(to inputs: inout Tensor, sampleShape: [Int], scratch: inout Tensor, key: UInt64) {
        precondition(sampleShape.count == 3, "augmentation needs [C, H, W] samples, got \(sampleShape)")
        let (channels, height, width) = (sampleShape[0], sampleShape[1], sampleShape[2])
        let size = channels * height * width
        let rows = inputs.rows
        if inputs.backend != nil {
            scratch.assign(inputs)
            DeviceLayerKernels.cropAndFlip(scratch, key: key, channels: channels, height: height, width: width, into: &inputs)
            return
        }
        scratch.resize(to: [size], on: nil)
        // Reflect padding without repeating the edge: index −1 reads 1, index n reads n − 2.
        @inline(__always) func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i) }
        inputs.withUnsafeMutablePointer { p in
            scratch.withUnsafeMutablePointer { sample in
                for r in 0..<rows {
                    let image = p + r * size
                    let (dy, dx, flip) = Self.draw(row: r, key: key)
                    sample.update(from: image, count: size)
                    for c in 0..<channels {
                        let plane = sample + c * height * width
                        for y in 0..<height {
                            let sourceRow = plane + reflect(y + dy, height) * width
                            let out = image + (c * height + y) * width
                            for x in 0..<width {
                                let sx = reflect((flip ? width - 1 - x : x) + dx, width)
                                out[x] = sourceRow[sx]
                            }
                        }
                    }
                }
            }
        }
    }
}
