import Synchronization

/// Counts the floating-point operations of every executed matrix product (2·m·n·k per GEMM)
/// and the tensor allocations, process-wide and per scope.
///
/// A scope (`OperationCounter.counting`) sees only what runs in its task and the tasks it
/// starts, so figures such as `train_flops` stay exact while other work runs concurrently.
/// They are read from the counter, never computed from a formula.
public final class OperationCounter: Sendable {
    let flopCount = Atomic<Int>(0)
    let allocationCount = Atomic<Int>(0)
    let parent: OperationCounter?

    init(parent: OperationCounter?) { self.parent = parent }

    /// The process-wide counter.
    public static let process = OperationCounter(parent: nil)

    /// The innermost counting scope of the current task.
    @TaskLocal static var current: OperationCounter = .process

    /// Floating-point operations of the GEMMs executed in this scope.
    public var flops: Int { flopCount.load(ordering: .relaxed) }
    /// Tensor storage allocations made in this scope.
    public var allocations: Int { allocationCount.load(ordering: .relaxed) }

    /// Runs `body` in a fresh counting scope nested in the current one and returns the scope's counter.
    public static func counting<R>(_ body: (OperationCounter) throws -> R) rethrows -> R {
        let counter = OperationCounter(parent: current)
        return try $current.withValue(counter) { try body(counter) }
    }

    /// Runs `body` outside every counting scope: what it computes is not part of the work
    /// (a measurement that chooses between two ways of computing the same thing).
    static func uncounted<R>(_ body: () throws -> R) rethrows -> R {
        try $current.withValue(OperationCounter(parent: nil)) { try body() }
    }

    static func addFLOPs(_ operations: Int) {
        var counter: OperationCounter? = current
        while let c = counter {
            c.flopCount.add(operations, ordering: .relaxed)
            counter = c.parent
        }
    }

    static func addAllocation() {
        var counter: OperationCounter? = current
        while let c = counter {
            c.allocationCount.add(1, ordering: .relaxed)
            counter = c.parent
        }
    }
}
