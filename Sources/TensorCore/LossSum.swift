/// A running sum of training losses, kept where the rules compute them: a loss computed on the
/// host is added at once; a reduction on a device adds its scaled sum into a double on that
/// device and nothing waits (`DeviceBackend.reduce(_:threads:_:adding:to:)`). Reading `value`
/// copies the device's part back — one wait — so the trainer reads it once an epoch (and for a
/// progress line at most ten times a second), never once a batch.
public final class LossSum {
    private var host = 0.0
    private var device: (backend: any DeviceBackend, block: DeviceBlock)?

    /// A sum at zero.
    public init() {}

    deinit {
        if let device { device.backend.release(device.block) }
    }

    /// Adds a loss computed on the host.
    public func add(_ term: Double) { host += term }

    /// The sum so far; waits for the device's queued work when part of it is there.
    public var value: Double {
        guard let device else { return host }
        var total = 0.0
        withUnsafeMutableBytes(of: &total) { device.backend.download(from: device.block.address, bytes: 8, to: $0.baseAddress!) }
        return host + total
    }

    /// Whether every term so far was added on the host, so that `value` costs no copy.
    public var isOnHost: Bool { device == nil }

    /// Starts again from zero (on the device: a queued fill, no wait).
    public func reset() {
        host = 0
        if let device { Self.zero(device.block.address, on: device.backend) }
    }

    /// The address of the device's part on `backend`, zeroed when first asked for.
    func address(on backend: any DeviceBackend) -> UInt64 {
        if let device {
            precondition(device.backend === backend, "LossSum: terms from \(backend.device) added to a sum on \(device.backend.device)")
            return device.block.address
        }
        let block = backend.allocate(bytes: 8)
        Self.zero(block.address, on: backend)
        device = (backend, block)
        return block.address
    }

    private static func zero(_ address: UInt64, on backend: any DeviceBackend) {
        backend.launch(.fill, threads: 2, [.pointer(address), .int64(2), .float32(0)])
    }
}
