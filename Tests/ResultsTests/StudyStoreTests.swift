import Foundation
import Testing
import TestSupport
import Tuning
@testable import Results

@Suite struct StudyStoreTests {
    static func study(name: String = "s", budget: Int = 3, epochs: Int = 3) -> StoredStudy {
        StoredStudy(name: name, algorithm: "mf", dataset: "fashion-mnist", architecture: "mlp-2x1000", sampler: "tpe",
                    samplerSeed: 42, pruner: "none", trialBudget: budget, epochsPerTrial: epochs, settingsJSON: "{}",
                    createdAt: "2026-11-29T00:00:00Z")
    }

    static let space = SearchDistribution.float(low: 1e-5, high: 1e-2, log: true)

    /// A decide closure that records what it was shown and gives lr = 1e-3 · (number + 1).
    static func decide(_ trials: [FrozenTrial], _ number: Int) -> [String: (value: Double, distribution: SearchDistribution)] {
        ["learning_rate": (1e-3 * Double(number + 1), space)]
    }

    static func claimed(_ claim: TrialClaim) -> FrozenTrial? {
        if case .trial(let trial) = claim { return trial }
        return nil
    }

    @Test func aNewStudyHasNoTrialsAndReopeningChecksItsSettings() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/s.sqlite")
        let opened = try store.openStudy(Self.study())
        #expect(opened.id != nil)
        #expect(try store.trials(ofStudy: opened.id!).isEmpty)
        // Same settings: the same study, budget updated.
        let resumed = try store.openStudy(Self.study(budget: 5))
        #expect(resumed.id == opened.id && resumed.trialBudget == 5)
        #expect(try store.study(named: "s")?.trialBudget == 5)
        // A different epoch budget under the same name is refused, naming the setting.
        #expect(throws: StoreError.self) { try store.openStudy(Self.study(epochs: 4)) }
        do { _ = try store.openStudy(Self.study(epochs: 4)) } catch {
            #expect("\(error)".contains("study 's' exists with epochs per trial 3, not 4"), "\(error)")
        }
    }

    @Test func claimsUpToTheBudgetThenWaitsThenIsDone() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/s.sqlite")
        let id = try store.openStudy(Self.study(budget: 2)).id!
        let first = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "a", staleAfter: 60, decide: Self.decide)))
        #expect(first.number == 0 && first.state == .running && first.workerID == "a")
        #expect(first.parameters == ["learning_rate": 1e-3] && first.distributions == ["learning_rate": Self.space])
        let second = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "b", staleAfter: 60, decide: Self.decide)))
        #expect(second.number == 1)
        // Budget reached, trials still running: wait.
        #expect(try store.claimTrial(studyID: id, workerID: "c", staleAfter: 60, decide: Self.decide) == .wait)
        #expect(try store.reportIntermediate(trialID: first.id, workerID: "a", step: 1, value: 0.5))
        #expect(try store.reportIntermediate(trialID: first.id, workerID: "a", step: 1, value: 0.9), "a repeated step is ignored")
        #expect(try !store.reportIntermediate(trialID: first.id, workerID: "b", step: 2, value: 0.9), "not b's trial")
        #expect(try store.finishTrial(trialID: first.id, workerID: "a", state: .complete, value: 0.8, failureReason: nil, run: nil))
        #expect(try store.finishTrial(trialID: second.id, workerID: "b", state: .fail, value: nil, failureReason: "diverged", run: nil))
        #expect(try !store.finishTrial(trialID: second.id, workerID: "b", state: .complete, value: 1, failureReason: nil, run: nil),
                "a finished trial is frozen")
        // A failed (not retried) trial counts towards the budget.
        #expect(try store.claimTrial(studyID: id, workerID: "c", staleAfter: 60, decide: Self.decide) == .done)
        let trials = try store.trials(ofStudy: id)
        #expect(trials.map(\.state) == [.complete, .fail])
        #expect(trials[0].value == 0.8 && trials[0].intermediateValues == [1: 0.5])
        #expect(trials[1].failureReason == "diverged" && trials[1].value == nil)
        #expect(trials[0].observed != nil && trials[1].observed == nil, "the sampler ignores failed trials")
    }

    @Test func aStaleTrialIsFailedAndRetriedWithItsParameters() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/s.sqlite")
        let id = try store.openStudy(Self.study(budget: 1)).id!
        let dead = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "dead", now: 1000, staleAfter: 20, decide: Self.decide)))
        #expect(try store.claimTrial(studyID: id, workerID: "b", now: 1010, staleAfter: 20, decide: Self.decide) == .wait, "not stale yet")
        // 30 s without a heartbeat: failed, and its retry goes to the worker that asked.
        let retry = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "b", now: 1030, staleAfter: 20, decide: Self.decide)))
        #expect(retry.number == 1 && retry.retryOf == dead.id && retry.workerID == "b")
        #expect(retry.parameters == dead.parameters && retry.distributions == dead.distributions)
        // The dead worker's late writes are refused.
        #expect(try !store.recordHeartbeat(trialID: dead.id, workerID: "dead"))
        #expect(try !store.finishTrial(trialID: dead.id, workerID: "dead", state: .complete, value: 1, failureReason: nil, run: nil))
        #expect(try store.finishTrial(trialID: retry.id, workerID: "b", state: .complete, value: 0.7, failureReason: nil,
                                      run: ResultsStoreTests.run(seed: 1)))
        // The retried failure does not count towards the budget of one: the study is done.
        #expect(try store.claimTrial(studyID: id, workerID: "b", now: 1040, staleAfter: 20, decide: Self.decide) == .done)
        let trials = try store.trials(ofStudy: id)
        #expect(trials.map(\.state) == [.fail, .complete])
        #expect(trials[0].failureReason?.hasPrefix("worker dead stopped sending heartbeats (last one 30 s ago)") == true)
        #expect(trials[1].runID != nil)
        #expect(try store.runs().count == 1)
    }

    @Test func distributionsRoundTripThroughOptunasJSON() {
        for distribution in [SearchDistribution.float(low: 1e-5, high: 0.01, log: true), .float(low: 0, high: 1, step: 0.25),
                             .integer(low: 1, high: 64, log: true), .categorical(count: 3)] {
            #expect(SearchDistribution(json: distribution.json) == distribution, "\(distribution.json)")
        }
        #expect(SearchDistribution.float(low: 1e-5, high: 0.01, log: true).json
                == #"{"name": "FloatDistribution", "attributes": {"step": null, "low": 1e-05, "high": 0.01, "log": true}}"#)
    }
}
