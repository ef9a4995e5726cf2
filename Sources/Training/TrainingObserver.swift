import Records

/// Where a training batch stands, for progress display.
public struct BatchProgress: Sendable, Codable {
    public var stage: String
    public var stageIndex: Int
    public var stageCount: Int
    public var epoch: Int
    public var maxEpochs: Int
    public var batch: Int
    public var batchCount: Int
    public var batchSize: Int
    /// The epoch's mean training loss so far; nil while it is summed on a device, where reading
    /// it would make the host wait for the card.
    public var loss: Float?
    /// Training samples per second in the current epoch so far.
    public var samplesPerSecond: Double
}

/// Watches training events; progress lines, metering and recording observe, they do not loop.
public protocol TrainingObserver: AnyObject {
    /// After a training batch: at most ten times a second, and after an epoch's last batch.
    func batchDidEnd(_ progress: BatchProgress)
    /// After each epoch's validation.
    func epochDidEnd(_ record: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int)
    /// When the measurement window opens (just before the first training batch).
    func windowDidStart()
    /// When the measurement window closes (at the stop, before the test evaluation).
    func windowDidEnd()
    /// Asked after each epoch: how and why to stop the run now (a tuner pruning a trial: `pruned`;
    /// a trial no longer this worker's: `failed`), or nil.
    func stopRequest() -> (status: RunStatus, reason: String)?
    /// Asked after each batch: a reason to stop the run at this batch boundary, not tested and
    /// marked interrupted (a signal asked the process to stop), or nil.
    func interruptReason() -> String?
}

extension TrainingObserver {
    public func batchDidEnd(_ progress: BatchProgress) {}
    public func epochDidEnd(_ record: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int) {}
    public func windowDidStart() {}
    public func windowDidEnd() {}
    public func stopRequest() -> (status: RunStatus, reason: String)? { nil }
    public func interruptReason() -> String? { nil }
}
