/// Contiguous Float32 memory behind one or more `Tensor` values (copy-on-write): host memory, or
/// a block of a device's memory.
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    /// The host scalars; for device storage a placeholder that `Tensor` never hands out.
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let capacity: Int
    /// The device holding the scalars, nil for host memory.
    @usableFromInline let backend: (any DeviceBackend)?
    /// The device memory, for device storage.
    let block: DeviceBlock?

    /// Host memory for `capacity` scalars.
    init(capacity: Int) {
        self.capacity = capacity
        // 64-byte alignment keeps AVX-512 loads aligned.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(capacity, 1))
        backend = nil
        block = nil
        TensorMemory.didAllocate(bytes: capacity * 4)
    }

    /// Memory on `backend`'s device for `capacity` scalars (host memory when `backend` is nil).
    convenience init(capacity: Int, on backend: (any DeviceBackend)?) {
        if let backend { self.init(capacity: capacity, device: backend) } else { self.init(capacity: capacity) }
    }

    private init(capacity: Int, device backend: any DeviceBackend) {
        self.capacity = capacity
        self.backend = backend
        block = backend.allocate(bytes: max(capacity, 1) * 4)
        pointer = Self.placeholder
    }

    /// What `pointer` holds for device storage: one scalar no one reads.
    nonisolated(unsafe) private static let placeholder = UnsafeMutablePointer<Float>.allocate(capacity: 1)

    /// The device address of the scalars.
    var address: UInt64 {
        guard let block else { preconditionFailure("a host tensor given to a device primitive: every operand must be moved to the device") }
        return block.address
    }

    deinit {
        if let backend, let block {
            backend.release(block)
        } else {
            pointer.deallocate()
            TensorMemory.didFree(bytes: capacity * 4)
        }
    }
}
