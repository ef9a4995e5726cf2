import Foundation

/// Wrong classes drawn for each sample — Forward-Forward's negative labels — from counter-based
/// draws (`CounterRandom`), so that a device draws them where they are used, the same as the
/// host, with nothing copied over: uniform over the classes other than the label, or from the
/// softmax of the sample's scores over them ("hard" negatives).
public enum WrongClassSampling {
    /// The wrong class of sample `row` (label `label`), from draw `row` of `key`: uniform, or from
    /// the softmax of `scores` (the row's C scores) over the other classes.
    public static func draw(label: Int, classCount c: Int, scores: UnsafePointer<Float>?, key: UInt64, row: Int) -> Int {
        let u = CounterRandom.unitFloat(key: key, index: UInt64(row))
        guard let scores else { return (label + 1 + Int((u * Float(c - 1)).rounded(.down))) % c }
        var maximum = scores[label == 0 ? 1 : 0]
        for j in 0..<c where j != label && scores[j] > maximum { maximum = scores[j] }
        var total: Float = 0
        for j in 0..<c where j != label { total += Foundation.exp(scores[j] - maximum) }
        var remaining = u * total
        for j in 0..<c where j != label {
            remaining -= Foundation.exp(scores[j] - maximum)
            if remaining < 0 { return j }
        }
        return (label + 1) % c
    }

    /// On the host: appends to `pairs` a wrong class for each of `labels`, drawn as `draw` draws
    /// it (`scores` N×C on the host, or nil for uniform).
    public static func appendWrongClasses(of labels: [Int32], classCount c: Int, scores: Tensor?, key: UInt64, to pairs: inout [Int32]) {
        precondition(scores.map { $0.backend == nil && $0.rows == labels.count && $0.columns == c } ?? true,
                     "appendWrongClasses: scores \(scores?.shape ?? []) on \(scores?.device.description ?? "the host")")
        func append(_ scores: UnsafePointer<Float>?) {
            for (row, label) in labels.enumerated() {
                pairs.append(Int32(draw(label: Int(label), classCount: c, scores: scores.map { $0 + row * c }, key: key, row: row)))
            }
        }
        if let scores { scores.withUnsafePointer { append($0) } } else { append(nil) }
    }

    /// On a device: `pairs` (2N) becomes the N labels followed by a wrong class for each, drawn
    /// there as `draw` draws them (`scores` N×C on the same device, or nil for uniform).
    ///
    /// Shapes: labels N (class indices as floats), scores N×C → pairs 2N.
    public static func labelsAndWrongClasses(_ labels: Tensor, classCount c: Int, scores: Tensor?, key: UInt64, into pairs: inout Tensor) {
        guard let device = labels.backend else { preconditionFailure("labelsAndWrongClasses is the device form; the host draws with draw(label:…)") }
        let n = labels.count
        precondition(scores.map { $0.rows == n && $0.columns == c && $0.backend === device } ?? true, "labelsAndWrongClasses: scores \(scores?.shape ?? [])")
        pairs.resize(to: [2 * n], on: device)
        device.launch(.negativeLabels, threads: n, [.pointer(labels.address), .pointer(scores?.address ?? 0), .pointer(pairs.mutableAddress()),
                                                    .int32(Int32(n)), .int32(Int32(c)), .int64(Int64(bitPattern: key))])
    }
}
