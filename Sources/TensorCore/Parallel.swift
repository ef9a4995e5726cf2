import Dispatch
import Synchronization

/// Splits fused elementwise kernels over the kernel threads (and sets BLAS's alongside).
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
