/// What one prediction costs with the tested model, measured after training (outside the
/// training window): the algorithm's own inference as it runs (FF: one pass per class).
public struct InferenceRecord: Sendable, Codable, Equatable {
    /// Samples per batch of the throughput and energy measurement.
    public var batchSize: Int
    /// Predictions per second at `batchSize`.
    public var samplesPerSecond: Double
    /// Predictions made in the throughput measurement.
    public var predictions: Int
    /// Latency of one prediction at batch 1: median and 95th percentile over `latencyRepetitions`.
    public var latencyMedianMs: Double
    public var latencyP95Ms: Double
    public var latencyRepetitions: Int
    /// Counted GEMM FLOPs per prediction (2·m·n·k, as for training).
    public var flopsPerPrediction: Double
    /// Energy per 10,000 predictions at `batchSize`, from the same meters as training, and its source.
    public var energyJoulesPer10k: Double?
    public var energySource: String?
    /// The largest resident memory sampled while predicting.
    public var peakRSSBytes: Int
    /// What else ran while the latencies were timed (nil where it could not be read).
    public var latencyContention: Contention?

    enum CodingKeys: String, CodingKey {
        case batchSize = "batch_size", samplesPerSecond = "samples_per_second", predictions
        case latencyMedianMs = "latency_median_ms", latencyP95Ms = "latency_p95_ms", latencyRepetitions = "latency_repetitions"
        case flopsPerPrediction = "flops_per_prediction", energyJoulesPer10k = "energy_joules_per_10k", energySource = "energy_source"
        case peakRSSBytes = "peak_rss_bytes", latencyContention = "latency_contention"
    }

    public init(batchSize: Int, samplesPerSecond: Double, predictions: Int, latencyMedianMs: Double, latencyP95Ms: Double,
                latencyRepetitions: Int, flopsPerPrediction: Double, energyJoulesPer10k: Double?, energySource: String?, peakRSSBytes: Int,
                latencyContention: Contention? = nil) {
        self.batchSize = batchSize
        self.samplesPerSecond = samplesPerSecond
        self.predictions = predictions
        self.latencyMedianMs = latencyMedianMs
        self.latencyP95Ms = latencyP95Ms
        self.latencyRepetitions = latencyRepetitions
        self.flopsPerPrediction = flopsPerPrediction
        self.energyJoulesPer10k = energyJoulesPer10k
        self.energySource = energySource
        self.peakRSSBytes = peakRSSBytes
        self.latencyContention = latencyContention
    }
}

/// How much else competed for the CPU while something was timed.
public struct Contention: Sendable, Codable, Equatable {
    /// The timed span.
    public var seconds: Double
    /// CPU seconds other processes used meanwhile (the machine's busy time less this process's).
    public var otherCPUSeconds: Double
    /// Seconds the hypervisor gave the CPUs to other machines meanwhile.
    public var stealSeconds: Double
    /// Whether the timing counts as taken under load (the measurer's rule).
    public var contended: Bool

    enum CodingKeys: String, CodingKey {
        case seconds, otherCPUSeconds = "other_cpu_seconds", stealSeconds = "steal_seconds", contended
    }

    public init(seconds: Double, otherCPUSeconds: Double, stealSeconds: Double, contended: Bool) {
        self.seconds = seconds
        self.otherCPUSeconds = otherCPUSeconds
        self.stealSeconds = stealSeconds
        self.contended = contended
    }
}
