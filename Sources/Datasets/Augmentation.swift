import TensorCore

/// Random transformations of training batches, applied in place, seeded, without per-sample
/// allocation.
public enum Augmentation: String, Sendable {
    /// Random 32×32 crop of the 4-pixel reflect-padded image and a horizontal flip with p = 0.5
    /// (protocol §2, CIFAR).
    case cropAndFlip

    /// Transforms every sample of `batch` in place. `scratch` holds one sample between calls.
    /// Shapes: inputs N×(C·H·W) with `sampleShape` [C, H, W].
    public func apply(to inputs: inout Tensor, sampleShape: [Int], scratch: inout [Float], using generator: inout SeededGenerator) {
        precondition(sampleShape.count == 3, "augmentation needs [C, H, W] samples, got \(sampleShape)")
        let (channels, height, width) = (sampleShape[0], sampleShape[1], sampleShape[2])
        let size = channels * height * width
        let pad = 4
        if scratch.count != size { scratch = [Float](repeating: 0, count: size) }
        let rows = inputs.rows
        if inputs.backend != nil {
            // The same draws as on the CPU, row by row; the images are moved on the device.
            var params = [Float]()
            params.reserveCapacity(3 * rows)
            for _ in 0..<rows {
                let dy = generator.nextInt(below: 2 * pad + 1) - pad
                let dx = generator.nextInt(below: 2 * pad + 1) - pad
                params += [Float(dy), Float(dx), generator.nextUnitFloat() < 0.5 ? 1 : 0]
            }
            var draws = Tensor(zeros: [0]), source = Tensor(zeros: [0])
            draws.setScalars(params, on: inputs.backend)
            source.assign(inputs)
            DeviceLayerKernels.cropAndFlip(source, params: draws.reshaped([rows, 3]), channels: channels, height: height, width: width, into: &inputs)
            return
        }
        // Reflect padding without repeating the edge: index −1 reads 1, index n reads n − 2.
        @inline(__always) func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i) }
        inputs.withUnsafeMutablePointer { p in
            scratch.withUnsafeMutableBufferPointer { sample in
                for r in 0..<rows {
                    let image = p + r * size
                    let dy = generator.nextInt(below: 2 * pad + 1) - pad
                    let dx = generator.nextInt(below: 2 * pad + 1) - pad
                    let flip = generator.nextUnitFloat() < 0.5
                    sample.baseAddress!.update(from: image, count: size)
                    for c in 0..<channels {
                        let plane = sample.baseAddress! + c * height * width
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
