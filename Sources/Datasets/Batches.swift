import TensorCore

/// One minibatch: inputs and labels, reused from batch to batch.
public struct Batch {
    /// Shapes: N×D.
    public var inputs: Tensor
    /// Shapes: N.
    public var labels: [Int32]
    /// Each row's sample index in the dataset it was drawn from. Shapes: N.
    public var samples: [Int]
    /// The labels as floats on the device of `inputs` when the batch was drawn from a dataset on
    /// a device (empty otherwise). Shapes: N.
    public var deviceLabels: Tensor

    /// An empty batch to be filled by `fill`.
    public init() {
        inputs = Tensor(zeros: [0, 0])
        labels = []
        samples = []
        deviceLabels = Tensor(zeros: [0])
    }

    /// A batch with the given rows and labels.
    public static func testing(inputs: Tensor, labels: [Int32]) -> Batch {
        var batch = Batch()
        batch.inputs = inputs
        batch.labels = labels
        batch.samples = Array(0..<labels.count)
        return batch
    }
}

/// Fixed-size minibatches over a dataset: seeded shuffling per epoch for training (dropping the
/// last incomplete batch), or every sample in order for evaluation.
public struct BatchSchedule {
    /// How samples are ordered and whether the last short batch is kept.
    public enum Order: Sendable {
        /// A fresh seeded permutation each epoch; the last incomplete batch is dropped.
        case shuffledDroppingLast
        /// Dataset order; the last batch may be short.
        case sequential
    }

    public let batchSize: Int
    public let order: Order
    private var indices: [Int]
    /// `indices` as floats on the device of the dataset batches are drawn from, copied at the
    /// epoch's first batch from such a dataset (reusing its memory from epoch to epoch).
    private var deviceOrder = Tensor(zeros: [0])
    private var orderIsOnDevice = false

    /// A schedule over `count` samples.
    public init(count: Int, batchSize: Int, order: Order) {
        precondition(batchSize > 0, "batch size must be positive")
        self.batchSize = batchSize
        self.order = order
        self.indices = Array(0..<count)
    }

    /// The number of batches per epoch.
    public var batchCount: Int {
        switch order {
        case .shuffledDroppingLast: indices.count / batchSize
        case .sequential: (indices.count + batchSize - 1) / batchSize
        }
    }

    /// Samples seen per epoch.
    public var samplesPerEpoch: Int {
        order == .sequential ? indices.count : batchCount * batchSize
    }

    /// Starts an epoch: reshuffles when the order is shuffled.
    public mutating func startEpoch(using generator: inout SeededGenerator) {
        if order == .shuffledDroppingLast {
            generator.shuffle(&indices)
            orderIsOnDevice = false
        }
    }

    /// Copies batch `index` of the current epoch into `batch` (no allocation once sized). From a
    /// dataset on a device, the rows and labels are gathered there from the epoch's order,
    /// copied there at the epoch's first batch.
    public mutating func fill(_ batch: inout Batch, index: Int, from dataset: Dataset) {
        let start = index * batchSize
        let samples = indices[start..<min(start + batchSize, indices.count)]
        if let device = dataset.inputs.backend, let labels = dataset.deviceLabels {
            if !orderIsOnDevice {
                deviceOrder.setScalars(indices.map(Float.init), on: device)
                orderIsOnDevice = true
            }
            batch.inputs.gatherRows(samples.count, at: start, of: deviceOrder, from: dataset.inputs)
            batch.deviceLabels.gatherRows(samples.count, at: start, of: deviceOrder, from: labels.reshaped([dataset.count, 1]), rowShape: [])
        } else {
            batch.inputs.gatherRows(samples, of: dataset.inputs)
        }
        batch.samples.removeAll(keepingCapacity: true)
        batch.samples.append(contentsOf: samples)
        if batch.labels.count != samples.count { batch.labels = [Int32](repeating: 0, count: samples.count) }
        for (row, sample) in samples.enumerated() { batch.labels[row] = dataset.labels[sample] }
    }
}
