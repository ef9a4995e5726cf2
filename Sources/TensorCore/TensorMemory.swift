import Synchronization

/// The tensor allocator's own accounting: live and peak bytes of tensor storage, and the number
/// of storage allocations (the analogue of `torch.cuda.max_memory_allocated`).
public enum TensorMemory {
    static let live = Atomic<Int>(0)
    static let peak = Atomic<Int>(0)

    /// Bytes held by tensor storage right now.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// Highest `liveBytes` since the last `resetPeak()`.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }

    /// Starts a new peak window at the current live bytes.
    public static func resetPeak() {
        peak.store(live.load(ordering: .relaxed), ordering: .relaxed)
    }

    static func didAllocate(bytes: Int) {
        OperationCounter.addAllocation()
        let now = live.add(bytes, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    static func didFree(bytes: Int) {
        live.subtract(bytes, ordering: .relaxed)
    }
}
