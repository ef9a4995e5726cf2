import Records

/// Counters read over the measurement window (protocol §5).
public struct WindowMeasurements: Sendable, Equatable {
    /// Wall-clock seconds from the first training batch to the stop.
    public var seconds: Double = 0
    /// Training samples processed (every stage).
    public var trainSamples = 0
    /// Floating-point operations of every GEMM executed in the window.
    public var flops = 0
    /// Peak resident set size of the process over the window (the kernel's high-water mark).
    public var peakRSSBytes = 0
    /// Whether the high-water mark was reset at the window start; if not, `peakRSSBytes`
    /// covers the whole process so far.
    public var peakRSSWasReset = false
    /// The resident set size when the window opened (after the reset): data, the model, the
    /// process and whatever earlier runs in it still hold.
    public var startRSSBytes = 0
    /// Peak bytes of live tensors over the window.
    public var peakTensorBytes = 0
    /// Peak bytes of the device's live tensors over the window, for a run on a device.
    public var peakDeviceBytes: Int?
}

/// Everything the trainer learned about one run.
public struct TrainingResult: Sendable {
    public var epochs: [EpochRecord] = []
    public var stages: [StageRecord] = []
    public var status: RunStatus = .completed
    /// Why the run failed or was pruned.
    public var failureReason: String?
    public var window = WindowMeasurements()
    /// Test accuracy (0–1) of the restored best checkpoint; nil when the run failed.
    public var testAccuracy: Double?
    /// GEMM FLOPs per test sample of the inference pass, from the counter.
    public var forwardFLOPsPerSample: Double?

    /// Epochs run, summed over stages (patience epochs included).
    public var effectiveEpochs: Int { stages.reduce(0) { $0 + $1.epochs } }
    /// The best epoch of the last stage.
    public var bestEpoch: Int { stages.last?.bestEpoch ?? 0 }

    /// Ends the run with `status` for `reason`.
    mutating func stop(_ status: RunStatus, reason: String) {
        self.status = status
        failureReason = reason
    }
}
