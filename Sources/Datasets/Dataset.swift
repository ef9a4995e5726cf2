import TensorCore

/// Labelled samples held in memory as normalised Float32 rows.
public struct Dataset: Sendable {
    /// One row per sample. Shapes: N×D with D the product of `sampleShape`.
    public var inputs: Tensor
    /// One class index per sample, each in 0..<classCount.
    public var labels: [Int32]
    /// The shape of one sample, e.g. [1, 28, 28].
    public var sampleShape: [Int]
    /// The number of classes.
    public var classCount: Int
    /// The augmentation applied to training batches drawn from this dataset, if any.
    public var augmentation: Augmentation?
    /// The labels as floats (exact class indices) on the device of `inputs`; nil on the host.
    public let deviceLabels: Tensor?

    /// A dataset from rows and labels.
    public init(inputs: Tensor, labels: [Int32], sampleShape: [Int], classCount: Int) {
        precondition(inputs.rows == labels.count, "Dataset: \(inputs.rows) rows but \(labels.count) labels")
        self.inputs = inputs
        self.labels = labels
        self.sampleShape = sampleShape
        self.classCount = classCount
        deviceLabels = inputs.backend.map { device in
            var floats = Tensor(zeros: [0])
            floats.setScalars(labels.map(Float.init), on: device)
            return floats
        }
    }

    /// The number of samples.
    public var count: Int { labels.count }
    /// Scalars per sample.
    public var featureCount: Int { sampleShape.reduce(1, *) }

    /// The samples at `indices`, in that order (a copy).
    public func subset(_ indices: [Int]) -> Dataset {
        var rows = Tensor(zeros: [0])
        rows.gatherRows(indices, of: inputs.reshaped([count, featureCount]))
        var result = Dataset(inputs: rows, labels: indices.map { labels[$0] }, sampleShape: sampleShape, classCount: classCount)
        result.augmentation = augmentation
        return result
    }

    /// The dataset on `backend`'s device (the host when nil): inputs and labels copied there once,
    /// so that batches are gathered on the device.
    public func moved(to backend: (any DeviceBackend)?) -> Dataset {
        var result = Dataset(inputs: inputs.moved(to: backend), labels: labels, sampleShape: sampleShape, classCount: classCount)
        result.augmentation = augmentation
        return result
    }

    /// The first `limit` samples (all of them when `limit` is nil or larger).
    public func prefix(_ limit: Int?) -> Dataset {
        guard let limit, limit < count else { return self }
        return subset(Array(0..<limit))
    }
}

/// Training, validation and test data of one run.
public struct DataSplits: Sendable {
    public var train: Dataset
    public var validation: Dataset
    public var test: Dataset

    /// Three splits.
    public init(train: Dataset, validation: Dataset, test: Dataset) {
        self.train = train
        self.validation = validation
        self.test = test
    }
}
