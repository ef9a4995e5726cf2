import Foundation

/// Row and column primitives: the data movement and row-wise reductions the learning rules are
/// written in, so that no algorithm touches memory itself and a second device implements only
/// these. Each is one pass; none allocates once its destination has grown to size.
extension Tensor {
    // MARK: Rows

    /// `self = source[rows]`, shaped `[rows.count] + rowShape` (default: one flat row each).
    ///
    /// Shapes: source N×D → self R×D.
    public mutating func assignRows(_ rows: Range<Int>, of source: Tensor, rowShape: [Int]? = nil) {
        let d = source.columns
        precondition(rows.lowerBound >= 0 && rows.upperBound <= source.rows, "assignRows: \(rows) outside \(source.rows) rows")
        let shape = [rows.count] + (rowShape ?? [d])
        precondition(shape.reduce(1, *) == rows.count * d, "assignRows: rows of \(d) scalars do not fill \(shape)")
        resize(to: shape, on: source.backend)
        if let device = source.backend {
            return device.copy(from: source.address + UInt64(rows.lowerBound * d * 4), to: mutableAddress(), bytes: rows.count * d * 4)
        }
        source.withUnsafePointer { src in
            withUnsafeMutablePointer { $0.update(from: src + rows.lowerBound * d, count: rows.count * d) }
        }
    }

    /// `self[start ..< start + source.rows] = source` (rows of equal length).
    ///
    /// Shapes: self N×D, source R×D.
    public mutating func setRows(startingAt start: Int, to source: Tensor) {
        let d = columns, n = source.count / max(d, 1)
        precondition(n * d == source.count && start >= 0 && start + n <= rows, "setRows: \(source.shape) at row \(start) of \(shape)")
        if let device = backend {
            return device.copy(from: source.address, to: mutableAddress() + UInt64(start * d * 4), bytes: n * d * 4)
        }
        source.withUnsafePointer { src in
            withUnsafeMutablePointer { (($0 + start * d)).update(from: src, count: n * d) }
        }
    }

    /// `self[start ..< start + source.rows] += source` (rows of equal length).
    ///
    /// Shapes: self N×D, source R×D.
    public mutating func addToRows(startingAt start: Int, _ source: Tensor) {
        let d = columns, n = source.count / max(d, 1)
        precondition(n * d == source.count && start >= 0 && start + n <= rows, "addToRows: \(source.shape) at row \(start) of \(shape)")
        if let device = backend {
            return device.launch(.addToRows, threads: n * d, [.pointer(source.address), .pointer(mutableAddress()), .int64(Int64(start)),
                                                               .int32(Int32(n)), .int32(Int32(d))])
        }
        source.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                let out = dst + start * d
                for i in 0..<(n * d) { out[i] += src[i] }
            }
        }
    }

    /// `self[r] = source[indices[r]]`, shaped `[indices.count] + rowShape` (default: flat rows).
    ///
    /// Shapes: source N×D → self R×D.
    public mutating func gatherRows(_ indices: some Collection<Int>, of source: Tensor, rowShape: [Int]? = nil) {
        let d = source.columns, n = source.rows
        resize(to: [indices.count] + (rowShape ?? [d]))
        precondition(count == indices.count * d, "gatherRows: rows of \(d) scalars do not fill \(shape)")
        source.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                for (row, sample) in indices.enumerated() {
                    precondition(sample >= 0 && sample < n, "gatherRows: row \(sample) outside \(n)")
                    (dst + row * d).update(from: src + sample * d, count: d)
                }
            }
        }
    }

    /// `self[r] = source[order[start + r]]` for `r < rows`, on the source's device: a batch
    /// gathered from an epoch's order kept where the data is (row indices as floats, exact below 2²⁴).
    ///
    /// Shapes: source N×D, order M → self rows×D (or `[rows] + rowShape`).
    public mutating func gatherRows(_ rows: Int, at start: Int, of order: Tensor, from source: Tensor, rowShape: [Int]? = nil) {
        let d = source.columns, n = source.rows
        precondition(start >= 0 && start + rows <= order.count && n < 1 << 24, "gatherRows: rows \(start)..<\(start + rows) of an order of \(order.count)")
        resize(to: [rows] + (rowShape ?? [d]), on: source.backend)
        precondition(count == rows * d, "gatherRows: rows of \(d) scalars do not fill \(shape)")
        if let device = source.backend {
            return device.launch(.gatherRows, threads: rows * d, [.pointer(source.address), .pointer(order.address), .int64(Int64(start)),
                                                                   .pointer(mutableAddress()), .int32(Int32(rows)), .int32(Int32(d))])
        }
        order.withUnsafePointer { indices in gatherRows(UnsafeBufferPointer(start: indices + start, count: rows).lazy.map { Int($0) }, of: source,
                                                        rowShape: rowShape) }
    }

    /// `copies` stacked copies of `source`: block `b` (rows `b·N ..< (b+1)·N`) is `source` again.
    ///
    /// Shapes: source N×D → self (copies·N)×D.
    public mutating func assignRepeatedRows(of source: Tensor, copies: Int) {
        let (n, d) = (source.rows, source.columns)
        resize(to: [n * copies, d], on: source.backend)
        if let device = source.backend {
            return device.launch(.repeatRows, threads: n * d * copies, [.pointer(source.address), .pointer(mutableAddress()), .int32(Int32(n)),
                                                                         .int32(Int32(d)), .int32(Int32(copies))])
        }
        source.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                for block in 0..<copies { (dst + block * n * d).update(from: src, count: n * d) }
            }
        }
    }

    // MARK: Columns

    /// Columns `offset ..< offset + source.columns` of every row become `source`'s row.
    ///
    /// Shapes: self N×D, source N×K, offset + K ≤ D.
    public mutating func setColumns(startingAt offset: Int, to source: Tensor) {
        let (n, d, k) = (rows, columns, source.columns)
        precondition(source.rows == n && offset >= 0 && offset + k <= d, "setColumns: \(source.shape) at column \(offset) of \(shape)")
        if let device = backend {
            return device.launch(.setColumns, threads: n * k, [.pointer(source.address), .pointer(mutableAddress()), .int32(Int32(n)),
                                                                .int32(Int32(k)), .int32(Int32(d)), .int32(Int32(offset))])
        }
        source.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                for r in 0..<n { (dst + r * d + offset).update(from: src + r * k, count: k) }
            }
        }
    }

    /// The first `classCount` columns of row r become `value · onehot(labels[r])`.
    ///
    /// Shapes: self N×D (D ≥ classCount), labels N.
    public mutating func setLeadingColumns(oneHot labels: some Collection<Int32>, classCount c: Int, value: Float) {
        let (n, d) = (rows, columns)
        precondition(labels.count == n && c <= d, "setLeadingColumns: \(labels.count) labels, \(c) classes for \(shape)")
        precondition(backend == nil, "setLeadingColumns: the labels of a \(device) tensor are a tensor on its device")
        withUnsafeMutablePointer { dst in
            for (r, label) in labels.enumerated() {
                let row = dst + r * d
                for j in 0..<c { row[j] = 0 }
                row[Int(label)] = value
            }
        }
    }

    /// `setLeadingColumns(oneHot:)` with the labels a tensor of class indices as floats on this
    /// tensor's device.
    ///
    /// Shapes: self N×D (D ≥ classCount), labels N.
    public mutating func setLeadingColumns(oneHot labels: Tensor, classCount c: Int, value: Float) {
        let (n, d) = (rows, columns)
        precondition(labels.count == n && c <= d, "setLeadingColumns: \(labels.count) labels, \(c) classes for \(shape)")
        guard let device = backend else { return setLeadingColumns(oneHot: labels.scalars.map { Int32($0) }, classCount: c, value: value) }
        device.launch(.setLeadingOneHot, threads: n * c, [.pointer(labels.address), .pointer(mutableAddress()), .int32(Int32(n)), .int32(Int32(d)),
                                                          .int32(Int32(c)), .float32(value)])
    }

    /// The first `classCount` columns of row r become `value · onehot(r / blockRows)`: block b of
    /// `blockRows` rows holds candidate label b (Forward-Forward's scoring of every label).
    ///
    /// Shapes: self (C·blockRows)×D, D ≥ classCount.
    public mutating func setLeadingColumns(oneHotByBlockOf blockRows: Int, classCount c: Int, value: Float) {
        let (n, d) = (rows, columns)
        precondition(n == c * blockRows && c <= d, "setLeadingColumns: \(c) blocks of \(blockRows) rows for \(shape)")
        if let device = backend {
            return device.launch(.setBlockOneHot, threads: n * c, [.pointer(mutableAddress()), .int32(Int32(n)), .int32(Int32(d)),
                                                                   .int32(Int32(c)), .int32(Int32(blockRows)), .float32(value)])
        }
        withUnsafeMutablePointer { dst in
            for r in 0..<n {
                for j in 0..<c { dst[r * d + j] = j == r / blockRows ? value : 0 }
            }
        }
    }

    /// The first `count` columns of every row become `value`.
    ///
    /// Shapes: self N×D (D ≥ count).
    public mutating func fillLeadingColumns(_ count: Int, with value: Float) {
        let (n, d) = (rows, columns)
        precondition(count <= d, "fillLeadingColumns: \(count) columns of \(shape)")
        if let device = backend {
            return device.launch(.fillLeading, threads: n * count, [.pointer(mutableAddress()), .int32(Int32(n)), .int32(Int32(d)),
                                                                     .int32(Int32(count)), .float32(value)])
        }
        withUnsafeMutablePointer { dst in
            for r in 0..<n { for j in 0..<count { dst[r * d + j] = value } }
        }
    }

    /// `self = onehot(labels)` over `classCount` classes.
    ///
    /// Shapes: labels N → self N×classCount.
    public mutating func assignOneHot(_ labels: some Collection<Int32>, classCount c: Int) {
        resize(to: [labels.count, c])
        fill(0)
        setLeadingColumns(oneHot: labels, classCount: c, value: 1)
    }

    /// `self[start + r, j] += m[j, r]`: adds the transpose of `m` to rows from `start`.
    ///
    /// Shapes: self N×C, m C×R, start + R ≤ N.
    public mutating func addTransposed(_ m: Tensor, atRow start: Int) {
        let (c, r) = (m.rows, m.columns)
        precondition(columns == c && start >= 0 && start + r <= rows, "addTransposed: \(m.shape)ᵀ at row \(start) of \(shape)")
        if let device = backend {
            return device.launch(.addTransposed, threads: r * c, [.pointer(m.address), .pointer(mutableAddress()), .int64(Int64(start)),
                                                                   .int32(Int32(c)), .int32(Int32(r))])
        }
        m.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                for j in 0..<c { for row in 0..<r { dst[(start + row) * c + j] += src[j * r + row] } }
            }
        }
    }

    // MARK: Elementwise

    /// `self += α·x` (equal counts).
    public mutating func add(_ x: Tensor, scaledBy alpha: Float) {
        let n = count
        precondition(x.count == n, "add(scaledBy:): \(shape) vs \(x.shape)")
        if let device = backend {
            return device.launch(.addScaled, threads: n, [.pointer(x.address), .pointer(mutableAddress()), .int64(Int64(n)), .float32(alpha)])
        }
        x.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in for i in 0..<n { dst[i] += alpha * src[i] } }
        }
    }

    /// `self += (s[0] / divisor)·x`, the factor read where `s` lives (no copy back from a device).
    ///
    /// Shapes: x as self, s 1.
    public mutating func add(_ x: Tensor, scaledByScalarIn s: Tensor, over divisor: Float) {
        let n = count
        precondition(x.count == n && s.count == 1 && s.backend === backend, "add(scaledByScalarIn:): \(shape), \(x.shape), \(s.shape)")
        guard let device = backend else { return add(x, scaledBy: s[0] / divisor) }
        device.launch(.addScaledByScalar, threads: n, [.pointer(x.address), .pointer(mutableAddress()), .int64(Int64(n)),
                                                       .pointer(s.address), .float32(divisor)])
    }

    /// `total[0] = Σ self[i]`, added in index order on either device (so both give the same float).
    public func sumInOrder(into total: inout Tensor) {
        total.resize(to: [1], on: backend)
        if let device = backend {
            return device.launch(.sumInOrder, threads: 1, [.pointer(address), .int64(Int64(count)), .pointer(total.mutableAddress())])
        }
        var sum: Float = 0
        withUnsafePointer { p in for i in 0..<count { sum += p[i] } }
        total[0] = sum
    }

    // MARK: Row reductions

    /// The rows whose first maximal scalar is at their label's column (NaN never wins over a number).
    ///
    /// Shapes: self N×C, labels N.
    public func countArgmaxMatches(_ labels: some Collection<Int32>) -> Int {
        precondition(backend == nil, "countArgmaxMatches: the labels of a \(device) tensor are a tensor on its device")
        let (n, c) = (rows, columns)
        precondition(labels.count == n, "countArgmaxMatches: \(labels.count) labels for \(n) rows")
        return withUnsafePointer { p in
            var correct = 0
            for (r, label) in labels.enumerated() {
                let row = p + r * c
                var best = 0   // the first maximum; NaN never wins over a number
                for j in 1..<max(c, 1) where row[j] > row[best] || row[best].isNaN { best = j }
                if best == Int(label) { correct += 1 }
            }
            return correct
        }
    }

    /// The rows whose first maximal scalar is at their label's column, the labels a tensor of
    /// class indices as floats on this tensor's device.
    ///
    /// Shapes: self N×C, labels N.
    public func countArgmaxMatches(labels: Tensor) -> Int {
        let (n, c) = (rows, columns)
        precondition(labels.count == n, "countArgmaxMatches: \(labels.count) labels for \(n) rows")
        guard let device = backend else { return countArgmaxMatches(labels.scalars.map { Int32($0) }) }
        return device.reduce(.countArgmaxMatches, threads: n, countArgmaxArguments(labels, on: device)).count
    }

    /// `countArgmaxMatches(labels:)` on a device with no wait: adds the count to `correct` there.
    ///
    /// Shapes: self N×C, labels N.
    public func countArgmaxMatches(labels: Tensor, countingInto correct: LossSum) {
        precondition(labels.count == rows, "countArgmaxMatches: \(labels.count) labels for \(rows) rows")
        guard let device = backend else { return correct.add(Double(countArgmaxMatches(labels: labels))) }
        device.reduce(.countArgmaxMatches, threads: rows, countArgmaxArguments(labels, on: device), to: nil, countingInto: correct)
    }

    private func countArgmaxArguments(_ labels: Tensor, on device: any DeviceBackend) -> [KernelArgument] {
        [.pointer(address), .pointer(labels.address), .int32(Int32(rows)), .int32(Int32(columns)), device.countSlot]
    }

    /// `softmax` of each row, the row maximum subtracted first.
    ///
    /// Shapes: self N×C → probabilities N×C.
    public func softmaxRows(into probabilities: inout Tensor) {
        let (n, c) = (rows, columns)
        probabilities.resize(to: shape, on: backend)
        if let device = backend {
            return device.launch(.softmaxRows, threads: n, [.pointer(address), .pointer(probabilities.mutableAddress()), .int32(Int32(n)), .int32(Int32(c))])
        }
        withUnsafePointer { z in
            probabilities.withUnsafeMutablePointer { p in
                for r in 0..<n {
                    let row = z + r * c, out = p + r * c
                    var maximum = row[0]
                    for j in 1..<c { maximum = max(maximum, row[j]) }
                    var sum: Float = 0
                    for j in 0..<c { out[j] = Foundation.exp(row[j] - maximum); sum += out[j] }
                    for j in 0..<c { out[j] /= sum }
                }
            }
        }
    }

    /// `scale · Σ_j x[r, j]²` for each row r.
    ///
    /// Shapes: self N×D → sums N.
    public func rowSquaredSums(scale: Float = 1, into sums: inout Tensor) {
        let (n, d) = (rows, columns)
        sums.resize(to: [n], on: backend)
        if let device = backend {
            return device.launch(.rowSquaredSums, threads: n, [.pointer(address), .pointer(sums.mutableAddress()), .int32(Int32(n)), .int32(Int32(d)),
                                                                .float32(scale)])
        }
        withUnsafePointer { x in
            sums.withUnsafeMutablePointer { out in
                for r in 0..<n {
                    let row = x + r * d
                    var sum: Float = 0
                    for j in 0..<d { sum += row[j] * row[j] }
                    out[r] = sum * scale
                }
            }
        }
    }

    /// `y_r = x_r / (‖x_r‖ + ε)` per row (ε outside the square root; a zero row stays zero).
    ///
    /// Shapes: self N×d → y N×d.
    public func normalizeRows(into y: inout Tensor, kind: RowNormalization, epsilon: Float) {
        let (n, d) = (rows, columns)
        y.resize(to: shape, on: backend)
        if let device = backend {
            return device.launch(.normalizeRows, threads: n, [.pointer(address), .pointer(y.mutableAddress()), .int32(Int32(n)), .int32(Int32(d)),
                                                               .int32(kind == .rms ? 1 : 0), .float32(epsilon)])
        }
        withUnsafePointer { xp in
            y.withUnsafeMutablePointer { yp in
                for r in 0..<n {
                    let row = xp + r * d, out = yp + r * d
                    var squares: Float = 0
                    for j in 0..<d { squares += row[j] * row[j] }
                    let norm = (kind == .rms ? squares / Float(d) : squares).squareRoot()
                    let scale = 1 / (norm + epsilon)
                    for j in 0..<d { out[j] = row[j] * scale }
                }
            }
        }
    }
}

/// How a row is scaled to unit size.
public enum RowNormalization: String, Sendable {
    /// `x / (sqrt(mean(x²)) + ε)`: unit root-mean-square.
    case rms
    /// `x / (sqrt(Σx²) + ε)`: unit length.
    case l2
}
