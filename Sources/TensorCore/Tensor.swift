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

    /// A tensor whose contents are undefined until written, on `backend`'s device (default: the host).
    public init(uninitialized shape: [Int], on backend: (any DeviceBackend)? = nil) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = TensorStorage(capacity: count, on: backend)
    }

    /// A tensor of zeros on `backend`'s device (the host when nil).
    public init(zeros shape: [Int], on backend: (any DeviceBackend)?) {
        self.init(uninitialized: shape, on: backend)
        fill(0)
    }

    /// The device holding the scalars, nil for the host.
    public var backend: (any DeviceBackend)? { storage.backend }
    /// Where the scalars live.
    public var device: Device { storage.backend?.device ?? .cpu }

    /// The same scalars on `backend`'s device (the host when nil): `self` when already there, else a copy.
    public func moved(to backend: (any DeviceBackend)?) -> Tensor {
        if backend === storage.backend { return self }
        let copy = Tensor(uninitialized: shape, on: backend)
        let bytes = count * 4
        switch (storage.backend, backend) {
        case (nil, let target?): target.upload(storage.pointer, bytes: bytes, to: copy.address)
        case (let source?, nil): source.download(from: address, bytes: bytes, to: copy.storage.pointer)
        default: return moved(to: nil).moved(to: backend)   // between two devices, through the host
        }
        return copy
    }

    /// The number of rows of a matrix (the first extent).
    public var rows: Int { shape.first ?? 1 }
    /// The number of scalars per row (all extents but the first).
    public var columns: Int { shape.count <= 1 ? count : count / max(shape[0], 1) }

    /// The scalars in row-major order (copied from the device when the tensor is on one).
    public var scalars: [Float] {
        if let backend = storage.backend {
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { backend.download(from: storage.address, bytes: $0.count, to: $0.baseAddress!) }
            return values
        }
        return Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// One scalar by flat index (a copy to or from the device when the tensor is on one: not for loops).
    public subscript(index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count)
            guard let backend = storage.backend else { return storage.pointer[index] }
            var value: Float = 0
            backend.download(from: storage.address + UInt64(index * 4), bytes: 4, to: &value)
            return value
        }
        set {
            precondition(index >= 0 && index < count)
            makeUnique()
            guard let backend = storage.backend else { storage.pointer[index] = newValue; return }
            var value = newValue
            backend.upload(&value, bytes: 4, to: storage.address + UInt64(index * 4))
        }
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
        resize(to: newShape, on: storage.backend)
    }

    /// Changes the shape and moves to `backend`'s device (the host when nil), keeping the storage
    /// when it is there, large enough and not shared: how a primitive's output follows its inputs.
    /// Contents are undefined afterwards.
    public mutating func resize(to newShape: [Int], on backend: (any DeviceBackend)?) {
        let sameDevice = backend === storage.backend
        if newShape == shape, sameDevice, isKnownUniquelyReferenced(&storage) { return }
        let newCount = newShape.reduce(1, *)
        if newCount > storage.capacity || !sameDevice || !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(capacity: newCount, on: backend)
        }
        shape = newShape
        count = newCount
    }

    /// Read access to the scalars (host tensors only).
    @inlinable
    public func withUnsafePointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        precondition(storage.backend == nil, "a \(device) tensor read through a host pointer: this primitive has no device kernel")
        return try body(UnsafePointer(storage.pointer))
    }

    /// Write access to the scalars (host tensors only); copies first if the storage is shared.
    @inlinable
    public mutating func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        precondition(storage.backend == nil, "a \(device) tensor written through a host pointer: this primitive has no device kernel")
        makeUnique()
        return try body(storage.pointer)
    }

    @usableFromInline
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = TensorStorage(capacity: count, on: storage.backend)
            if let backend = storage.backend {
                backend.copy(from: storage.address, to: fresh.address, bytes: count * 4)
            } else {
                fresh.pointer.update(from: storage.pointer, count: count)
            }
            storage = fresh
        }
    }

    /// The device address of the scalars, to read (device tensors only).
    var address: UInt64 { storage.address }

    /// The device address of the scalars, to write (copied first if the storage is shared).
    mutating func mutableAddress() -> UInt64 {
        makeUnique()
        return storage.address
    }

    /// Copies `other`'s scalars into this tensor, resizing it to `other`'s shape and moving it to
    /// `other`'s device.
    public mutating func assign(_ other: Tensor) {
        resize(to: other.shape, on: other.backend)
        let n = count
        if let backend = other.backend {
            backend.copy(from: other.address, to: storage.address, bytes: n * 4)
            return
        }
        other.withUnsafePointer { src in storage.pointer.update(from: src, count: n) }
    }

    /// `self = values` as a flat tensor on `backend`'s device (the host when nil): a copy from the
    /// host, with no allocation once the tensor has grown to size.
    public mutating func setScalars(_ values: [Float], on backend: (any DeviceBackend)?) {
        resize(to: [values.count], on: backend)
        guard !values.isEmpty else { return }
        if let backend {
            values.withUnsafeBytes { backend.upload($0.baseAddress!, bytes: $0.count, to: mutableAddress()) }
            return
        }
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// Sets every scalar to `value`.
    public mutating func fill(_ value: Float) {
        let n = count
        if let backend = storage.backend {
            backend.launch(.fill, threads: n, [.pointer(mutableAddress()), .int64(Int64(n)), .float32(value)])
            return
        }
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
        if storage.backend != nil { return add(other, scaledBy: 1) }
        other.withUnsafePointer { src in
            withUnsafeMutablePointer { dst in
                for i in 0..<n { dst[i] += src[i] }
            }
        }
    }
}
