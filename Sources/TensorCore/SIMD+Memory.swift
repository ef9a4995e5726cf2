/// Unaligned SIMD loads and stores on Float buffers, for kernels that must vectorize.
extension SIMD where Scalar == Float {
    /// The lanes starting at `pointer`.
    @inlinable @inline(__always)
    public static func load(_ pointer: UnsafePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    /// The lanes starting at `pointer`.
    @inlinable @inline(__always)
    public static func load(_ pointer: UnsafeMutablePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    /// Writes the lanes starting at `pointer`.
    @inlinable @inline(__always)
    public func store(to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: Self.self)
    }
}
