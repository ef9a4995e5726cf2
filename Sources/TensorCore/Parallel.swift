import Dispatch
import Synchronization

/// Splits fused elementwise kernels over the kernel threads (and sets BLAS's and oneDNN's alongside).
public enum Parallel {
    /// Starts at OpenBLAS's own default (OPENBLAS_NUM_THREADS or the core count).
    static let threadCount = Atomic<Int>(max(1, BLAS.threads))

    /// Threads used by kernels and by BLAS. Setting it sets both; it is a recorded run setting.
    public static var threads: Int {
        get { threadCount.load(ordering: .relaxed) }
        set {
            let n = max(1, newValue)
            threadCount.store(n, ordering: .relaxed)
            BLAS.threads = n
            ConvolutionKernel.setThreads(n)
        }
    }

    /// Runs `body` over `0..<count` in contiguous chunks, one per thread when the work is large
    /// enough (`grain` elements at least per chunk), otherwise inline on the caller's thread.
    public static func forEachChunk(count: Int, grain: Int = 32_768, threads: Int = Parallel.threads,
                                    _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        // NOTE: chunk borders are multiples of 16 floats so no two threads share a cache line.
        let per = ((count + chunks - 1) / chunks + 15) & ~15
        DispatchQueue.concurrentPerform(iterations: chunks) { index in
            let start = index * per
            let end = min(count, start + per)
            if start < end { body(start..<end) }
        }
    }
}

extension Parallel {
    /// `body` over the same chunks `forEachChunk` makes, its results in chunk order (for
    /// partial sums that are combined in a fixed order).
    public static func mapChunks<T: Sendable>(count: Int, grain: Int = 32_768, threads: Int = Parallel.threads,
                                              _ body: @Sendable (Range<Int>) -> T) -> [T] {
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks <= 1 { return [body(0..<count)] }
        let per = (count + chunks - 1) / chunks
        let results = Mutex<[T?]>(Array(repeating: nil, count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { index in
            let range = index * per..<min(count, (index + 1) * per)
            let value = body(range)
            results.withLock { $0[index] = value }
        }
        return results.withLock { $0.map { $0! } }
    }
}

/// A buffer pointer carried into parallel chunks, each of which touches a disjoint part.
public struct SharedPointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    /// Wraps `pointer`.
    public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    /// Wraps a read-only pointer (it is never written through).
    public init(_ pointer: UnsafePointer<T>) { self.pointer = UnsafeMutablePointer(mutating: pointer) }
}

