import Algorithms
import Datasets
import Records
import Testing
import Training
@testable import Experiments

/// How a trial's run ends when its reports to the store fail, are refused or prune it.
@Suite struct TrialReporterTests {
    static func fit(_ reporter: TrialReporter) -> TrainingResult {
        let data = SyntheticDataset.splits(train: 300, validation: 100, test: 100, features: 8, classes: 3, noise: 0.3, seed: 1)
        let algorithm = try! AlgorithmRegistry.make(id: "bp", architecture: .mlp(hiddenWidths: [8]), inputShape: [8], classCount: 3, seed: 1).algorithm
        let trainer = Trainer(configuration: .init(stopping: StoppingRule(patience: 20, minDelta: 0, maxEpochs: 4), batchSize: 32,
                                                   evaluationBatchSize: 100, seed: 1), observers: [reporter])
        return trainer.fit(algorithm, data: data)
    }

    /// A store that cannot be reached (a PostgreSQL outage) prunes nothing: the run goes on.
    @Test func anUnreachableStoreStopsNoRun() {
        struct Outage: Error {}
        var calls = 0
        let result = Self.fit(TrialReporter { _, _ in calls += 1; throw Outage() })
        #expect(result.status == .completed && result.epochs.count == 4 && calls == 4)
    }

    /// A trial taken over by another worker ends its run as failed, naming why; the pruner prunes.
    @Test(arguments: [RunStatus.failed, .pruned])
    func aStopRequestEndsTheRunWithItsStatus(status: RunStatus) {
        let result = Self.fit(TrialReporter { step, _ in step == 2 ? (status, "stop at 2") : nil })
        #expect(result.status == status && result.failureReason == "stop at 2" && result.epochs.count == 2)
    }
}
