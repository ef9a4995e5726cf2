import Synchronization
import TensorCore

/// A caching allocator of device memory, as PyTorch's: a freed block goes back to a pool of its
/// size class instead of to the driver, so that training allocates from the driver only while
/// shapes are new and never per batch. Sizes round up to 512 bytes below 1 MiB and to 2 MiB
/// above; a request takes a cached block of exactly its class. Counts live and peak bytes (the
/// analogue of `torch.cuda.max_memory_allocated`) and what is held from the driver.
public final class DeviceAllocator: @unchecked Sendable {
    /// A block of device memory: its address and the bytes its size class holds.
    public typealias Block = DeviceBlock

    private let allocate: (Int) throws -> UInt64
    private let free: (UInt64) -> Void
    private let state = Mutex(State())

    struct State {
        var cached: [Int: [UInt64]] = [:]
        var live = 0, peak = 0, reserved = 0, driverAllocations = 0
    }

    /// An allocator over the driver's `allocate` and `free` (tests: any functions that behave so).
    public init(allocate: @escaping (Int) throws -> UInt64, free: @escaping (UInt64) -> Void) {
        self.allocate = allocate
        self.free = free
    }

    /// The size class of a request.
    public static func roundedSize(_ bytes: Int) -> Int {
        let (small, large) = (512, 2 << 20)
        let unit = bytes < 1 << 20 ? small : large
        return max(unit, (bytes + unit - 1) / unit * unit)
    }

    /// A block of at least `bytes`, cached if one of its class is free.
    public func block(bytes: Int) throws -> Block {
        let size = Self.roundedSize(bytes)
        if let address = state.withLock({ state -> UInt64? in
            guard let address = state.cached[size]?.popLast() else { return nil }
            state.live += size
            state.peak = max(state.peak, state.live)
            return address
        }) { return Block(address: address, bytes: size) }
        var address: UInt64
        do { address = try allocate(size) } catch {
            // Out of memory: give every cached block back and try once more.
            emptyCache()
            address = try allocate(size)
        }
        state.withLock { state in
            state.live += size
            state.peak = max(state.peak, state.live)
            state.reserved += size
            state.driverAllocations += 1
        }
        return Block(address: address, bytes: size)
    }

    /// Returns a block to its pool.
    public func release(_ block: Block) {
        state.withLock { state in
            state.cached[block.bytes, default: []].append(block.address)
            state.live -= block.bytes
        }
    }

    /// Called before cached blocks go back to the driver (the backend queues a step it is
    /// recording, which may use them).
    var willEmptyCache: (() -> Void)?

    /// Frees every cached block to the driver.
    public func emptyCache() {
        willEmptyCache?()
        let blocks = state.withLock { state -> [(Int, UInt64)] in
            let all = state.cached.flatMap { size, addresses in addresses.map { (size, $0) } }
            state.cached = [:]
            state.reserved -= all.reduce(0) { $0 + $1.0 }
            return all
        }
        for (_, address) in blocks { free(address) }
    }

    /// Bytes in blocks handed out now.
    public var liveBytes: Int { state.withLock { $0.live } }
    /// The most `liveBytes` since the last `resetPeak()`.
    public var peakBytes: Int { state.withLock { $0.peak } }
    /// Bytes held from the driver (live and cached).
    public var reservedBytes: Int { state.withLock { $0.reserved } }
    /// Allocations asked of the driver so far.
    public var driverAllocations: Int { state.withLock { $0.driverAllocations } }

    /// Starts a new peak window at the current live bytes.
    public func resetPeak() { state.withLock { $0.peak = $0.live } }
}
