/// Contiguous Float32 memory behind one or more `Tensor` values (copy-on-write).
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        // 64-byte alignment keeps AVX-512 loads aligned.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(capacity, 1))
        TensorMemory.didAllocate(bytes: capacity * 4)
    }

    deinit {
        pointer.deallocate()
        TensorMemory.didFree(bytes: capacity * 4)
    }
}
