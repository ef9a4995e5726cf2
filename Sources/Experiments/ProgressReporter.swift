import Foundation
import Records
import Training

/// Progress on standard error: a live line (epoch, batch, samples/s, loss, ETA) on a terminal,
/// plain per-epoch lines otherwise, each with the time left at most (every remaining epoch to
/// its cap at the mean epoch time so far), and a line when the test and inference passes start.
public final class ProgressReporter: TrainingObserver {
    private let live: Bool
    private let write: (String) -> Void
    private var lastDraw = ContinuousClock.now
    private let clock = ContinuousClock()
    /// Seconds and count of the epochs so far, for the mean epoch time.
    private var epochTotal = (seconds: 0.0, count: 0)

    /// A reporter; `live` defaults to whether standard error is a terminal.
    public init(live: Bool = isatty(STDERR_FILENO) == 1,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.live = live
        self.write = write
    }

    public func batchDidEnd(_ p: BatchProgress) {
        guard live, clock.now - lastDraw > .milliseconds(100) || p.batch == p.batchCount else { return }
        lastDraw = clock.now
        let eta = Double((p.batchCount - p.batch) * p.batchSize) / max(p.samplesPerSecond, 1e-9)
        let stage = p.stageCount > 1 ? "[\(p.stage) \(p.stageIndex + 1)/\(p.stageCount)] " : ""
        let text = "\r\u{1B}[K\(stage)epoch \(p.epoch)/\(p.maxEpochs)  batch \(p.batch)/\(p.batchCount)  "
            + "\(format("%.0f", p.samplesPerSecond)) samples/s  \(p.loss.map { "loss \(format("%.4f", $0))  " } ?? "")epoch ETA \(Self.duration(eta))"
        write(text)
    }

    public func epochDidEnd(_ r: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int) {
        let stage = stageCount > 1 ? "[\(r.stage)] " : ""
        let text = "\(live ? "\r\u{1B}[K" : "")\(stage)epoch \(r.epoch)/\(maxEpochs)  train loss \(format("%.4f", r.trainLoss))  "
            + "val loss \(format("%.4f", r.validationLoss))  val acc \(format("%.2f", r.validationAccuracy * 100))%  \(format("%.1f", r.seconds)) s"
        // Early stopping usually ends sooner: this is the bound, with later stages taken to have
        // this stage's cap.
        epochTotal = (epochTotal.seconds + r.seconds, epochTotal.count + 1)
        let remaining = (maxEpochs - r.epoch) + (stageCount - stageIndex - 1) * maxEpochs
        let bound = Double(remaining) * epochTotal.seconds / Double(epochTotal.count)
        write(text + (remaining > 0 ? "  at most \(Self.duration(bound)) left" : "") + "\n")
    }

    public func windowDidEnd() {
        write("\(live ? "\r\u{1B}[K" : "")training stopped; measuring test accuracy and inference cost\n")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

/// `String(format:)` for one number.
func format(_ pattern: String, _ value: some CVarArg) -> String { String(format: pattern, value) }
