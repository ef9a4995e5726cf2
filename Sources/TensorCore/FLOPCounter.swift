import Synchronization

/// Counts the floating-point operations of every executed matrix product (2·m·n·k per GEMM).
///
/// Figures such as `train_flops` are differences of `total` over a window, never formulas.
public enum FLOPCounter {
    static let counter = Atomic<Int>(0)

    /// Operations counted since the process started.
    public static var total: Int { counter.load(ordering: .relaxed) }

    static func add(_ operations: Int) {
        counter.add(operations, ordering: .relaxed)
    }
}
