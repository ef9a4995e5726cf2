import Datasets
import NeuralNetwork
import TensorCore

// The label-reading primitives called with a batch, on the device its rows are on: the host's
// `[Int32]` labels, or the float labels gathered beside the rows on a device.

extension SoftmaxCrossEntropy {
    /// Fills `gradient` for the batch's mean loss and adds that loss to `total`: on the device of
    /// the batch's rows with no wait, or on the host.
    ///
    /// Shapes: logits N×C for the batch's N rows.
    public func lossAndGradient(logits: Tensor, of batch: Batch, addingMeanTo total: LossSum) {
        guard logits.backend != nil else { return total.add(Double(lossAndGradient(logits: logits, labels: batch.labels).loss)) }
        lossAndGradient(logits: logits, deviceLabels: batch.deviceLabels, addingMeanTo: total)
    }

    /// Adds the batch's summed loss and correct count to `sums`, without a gradient: on the
    /// device of the batch's rows with no wait, or on the host.
    ///
    /// Shapes: logits N×C for the batch's N rows.
    public static func evaluate(logits: Tensor, of batch: Batch, into sums: EvaluationSums) {
        evaluate(logits: logits, of: batch, addingLossTo: sums.loss, countingInto: sums.correct)
    }

    /// Adds the batch's summed loss to `loss` and its correct count to `correct` (each if given),
    /// without a gradient: on the device of the batch's rows with no wait, or on the host.
    ///
    /// Shapes: logits N×C for the batch's N rows.
    public static func evaluate(logits: Tensor, of batch: Batch, addingLossTo loss: LossSum?, countingInto correct: LossSum?) {
        guard logits.backend != nil else {
            let result = evaluate(logits: logits, labels: batch.labels)
            loss?.add(result.lossSum)
            correct?.add(Double(result.correct))
            return
        }
        SoftmaxKernels.crossEntropy(logits: logits, labels: batch.deviceLabels, addingLossTo: loss, countingInto: correct)
    }
}

extension SparsemaxLoss {
    /// Fills `gradient` for the batch's mean loss and adds that loss to `total`: on the device of
    /// the batch's rows with no wait, or on the host.
    ///
    /// Shapes: logits N×C for the batch's N rows.
    public func lossAndGradient(logits: Tensor, of batch: Batch, addingMeanTo total: LossSum) {
        guard logits.backend != nil else { return total.add(Double(lossAndGradient(logits: logits, labels: batch.labels).loss)) }
        lossAndGradient(logits: logits, deviceLabels: batch.deviceLabels, addingMeanTo: total)
    }

    /// Adds the batch's summed loss to `total`, without a gradient: on the device of the batch's
    /// rows with no wait, or on the host.
    ///
    /// Shapes: logits N×C for the batch's N rows.
    public func evaluate(logits: Tensor, of batch: Batch, addingLossTo total: LossSum) {
        guard logits.backend != nil else { return total.add(evaluate(logits: logits, labels: batch.labels).lossSum) }
        DeviceLayerKernels.sparsemaxLoss(logits: logits, labels: batch.deviceLabels, addingLossTo: total)
    }
}

extension SquaredError {
    /// `scale ×` the batch's summed squared error added to `total`: on the device of the batch's
    /// rows with no wait, or on the host.
    ///
    /// Shapes: logits N×C for the batch's N rows.
    public static func sum(logits: Tensor, of batch: Batch, adding scale: Double, to total: LossSum) {
        guard logits.backend != nil else { return total.add(scale * sum(logits: logits, labels: batch.labels)) }
        sum(logits: logits, deviceLabels: batch.deviceLabels, adding: scale, to: total)
    }
}

extension Tensor {
    /// The rows whose first maximal score is at the batch's label.
    ///
    /// Shapes: self N×C for the batch's N rows.
    public func countArgmaxMatches(of batch: Batch) -> Int {
        backend == nil ? countArgmaxMatches(batch.labels) : countArgmaxMatches(labels: batch.deviceLabels)
    }

    /// `countArgmaxMatches(of:)` added to `sums`'s correct count, with no wait on a device.
    ///
    /// Shapes: self N×C for the batch's N rows.
    public func countArgmaxMatches(of batch: Batch, into sums: EvaluationSums) {
        guard backend != nil else { return sums.add(lossSum: 0, correct: countArgmaxMatches(batch.labels)) }
        countArgmaxMatches(labels: batch.deviceLabels, countingInto: sums.correct)
    }

    /// `self = onehot(labels)` of the batch, on the device of its rows.
    ///
    /// Shapes: self N×classCount for the batch's N rows.
    public mutating func assignOneHot(ofLabels batch: Batch, classCount c: Int) {
        guard let device = batch.inputs.backend else { return assignOneHot(batch.labels, classCount: c) }
        resize(to: [batch.deviceLabels.count, c], on: device)
        setLeadingColumns(oneHot: batch.deviceLabels, classCount: c, value: 1)
    }

    /// `self[r] = table[label_r]`: the row of each sample's class.
    ///
    /// Shapes: table C×D → self N×D for the batch's N rows.
    public mutating func gatherRows(ofLabels batch: Batch, from table: Tensor) {
        if table.backend == nil {
            gatherRows(batch.labels.lazy.map { Int($0) }, of: table)
        } else {
            gatherRows(batch.deviceLabels.count, at: 0, of: batch.deviceLabels, from: table)
        }
    }
}
