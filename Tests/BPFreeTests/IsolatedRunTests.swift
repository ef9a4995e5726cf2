import Algorithms
import Experiments
import Foundation
import Records
import Testing
import TestSupport
import Training

/// A run in a process of its own behaves as in process: its observers see its batches, epochs
/// and window, their stop request stops it, and a child that dies is an error that says how.
@Suite struct IsolatedRunTests {
    final class Recorder: TrainingObserver {
        var batches = 0, epochs: [Int] = [], windows: [String] = []
        let stopAfter: Int
        init(stopAfter: Int) { self.stopAfter = stopAfter }
        func batchDidEnd(_ progress: BatchProgress) { batches += 1 }
        func epochDidEnd(_ record: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int) { epochs.append(record.epoch) }
        func windowDidStart() { windows.append("start") }
        func windowDidEnd() { windows.append("end") }
        func stopRequest() -> (status: RunStatus, reason: String)? {
            epochs.count >= stopAfter ? (.pruned, "pruned by the test at epoch \(epochs.count)") : nil
        }
    }

    static let configuration = RunConfiguration(algorithm: "bp", architecture: .mlp(hiddenWidths: [16]),
                                                dataset: "synthetic:samples=600,classes=3,shape=4x4", seed: 3,
                                                stopping: .init(patience: 20, minDelta: 0, maxEpochs: 6), threads: 1)

    @Test func theChildsRunAnswersItsParentsObservers() throws {
        let recorder = Recorder(stopAfter: 2)
        let (record, trace, _) = try IsolatedRun.perform(Self.configuration, observers: [recorder], executable: BPFreeProcess.binary)
        #expect(record.status == .pruned && record.failureReason == "pruned by the test at epoch 2", "\(record.status) \(record.failureReason ?? "")")
        #expect(record.epochs.count == 2 && recorder.epochs == [1, 2])
        #expect(recorder.batches >= 2 && recorder.windows == ["start", "end"])
        #expect(record.peakRSSBytes > 0 && record.energySource != nil && trace.count == record.traceSamples ?? 0)
        // The same run in this process: the same losses, epoch by epoch.
        let inProcess = try IsolatedRun.perform(Self.configuration, observers: [Recorder(stopAfter: 2)], executable: nil).record
        #expect(inProcess.epochs.map(\.trainLoss) == record.epochs.map(\.trainLoss))
    }

    @Test func aChildThatDiesIsAnErrorSayingHow() throws {
        let script = IDXFiles.temporaryFolder() + "/dies.sh"
        try "#!/bin/sh\nkill -KILL $$\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        #expect { try IsolatedRun.perform(Self.configuration, executable: script) } throws: {
            "\($0)" == "the run's process (bpfree run-child) was killed by signal 9 and left no record"
        }
    }

    /// A setting the child refuses comes back as the same ConfigurationError (exit status 64).
    @Test func aChildsConfigurationErrorIsThrownAsOne() throws {
        var configuration = Self.configuration
        configuration.options = ["bp.learning_rate": "fast"]
        #expect { try IsolatedRun.perform(configuration, executable: BPFreeProcess.binary) } throws: { $0 is ConfigurationError }
    }
}
