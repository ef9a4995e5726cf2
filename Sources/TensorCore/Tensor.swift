/// A contiguous, row-major Float32 array with a shape; a value type with copy-on-write storage.
///
/// Buffers that a hot loop rewrites stay allocation-free as long as nobody else holds them:
/// `withUnsafeMutablePointer` copies only when the storage is shared.
public struct Tensor: @unchecked Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The number of scalars (the product of `shape`).
    public private(set) var count: Int
    @usableFromInline var storage: TensorStorage

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(uninitialized: shape)
        storage.pointer.initialize(repeating: 0, count: count)
    }

    /// A tensor filled with one value.
    public init(shape: [Int], repeating value: Float) {
        self.init(uninitialized: shape)
        storage.pointer.initialize(repeating: value, count: count)
    }

    /// A tensor holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        self.init(uninitialized: shape)
        precondition(scalars.count == count, "Tensor: \(scalars.count) scalars for shape \(shape)")
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor whose contents are undefined until written.
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = TensorStorage(capacity: count)
    }

    /// The number of rows of a matrix (the first extent).
    public var rows: Int { shape.first ?? 1 }
    /// The number of scalars per row (all extents but the first).
    public var columns: Int { shape.count <= 1 ? count : count / max(shape[0], 1) }

    /// The scalars in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// One scalar by flat index.
    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count); return storage.pointer[index] }
        set { precondition(index >= 0 && index < count); makeUnique(); storage.pointer[index] = newValue }
    }

    /// The same scalars under another shape with the same count (shares storage).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var copy = self
        let newCount = newShape.reduce(1, *)
        precondition(newCount == count, "reshape: \(shape) has \(count) scalars, \(newShape) needs \(newCount)")
        copy.shape = newShape
        return copy
    }

    /// Changes the shape, keeping the storage when it is large enough and not shared.
    /// Contents are undefined afterwards. Allocates only when the buffer must grow or is shared.
    public mutating func resize(to newShape: [Int]) {
        if newShape == shape, isKnownUniquelyReferenced(&storage) { return }
        let newCount = newShape.reduce(1, *)
        if newCount > storage.capacity || !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(capacity: newCount)
        }
        shape = newShape
        count = newCount
    }

    /// Read access to the scalars.
    @inlinable
    public func withUnsafePointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafePointer(storage.pointer))
    }

    /// Write access to the scalars; copies first if the storage is shared.
    @inlinable
    public mutating func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(storage.pointer)
    }

    @usableFromInline
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = TensorStorage(capacity: count)
            fresh.pointer.update(from: storage.pointer, count: count)
            storage = fresh
        }
    }

    /// Copies `other`'s scalars into this tensor, resizing it to `other`'s shape.
    public mutating func assign(_ other: Tensor) {
        resize(to: other.shape)
        let n = count
        other.withUnsafePointer { src in storage.pointer.update(from: src, count: n) }
    }

    /// Sets every scalar to `value`.
    public mutating func fill(_ value: Float) {
        let n = count
        withUnsafeMutablePointer { $0.update(repeating: value, count: n) }
    }
}

extension Tensor: Equatable {
    /// Equal shapes and bit-identical scalars.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.scalars == rhs.scalars
    }
}

extension Tensor {
    /// Adds `other` elementwise. Shapes: equal counts.
    public mutating func add(_ other: Tensor) {
        let n = count
        precondition(other.count == n, "add: \(shape) vs \(other.shape)")
        other.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                for i in 0..<n { dst[i] += src[i] }
            }
        }
    }
}
