import Foundation
import Records
import Results
import Training
import Tuning

extension StudySpecification {
    /// The one objective of every study, whatever the algorithm: train the trial's configuration
    /// to its stop, report the validation accuracy after every epoch (step = epochs so far,
    /// summed over stages), stop when the pruner says so, and return the validation accuracy of
    /// the restored checkpoint.
    public func objective(observers: @escaping @Sendable () -> [any TrainingObserver] = { [] })
        -> @Sendable (TrialContext) throws -> TrialOutcome {
        let specification = self
        return { context in
            let reporter = TrialReporter(context: context)
            let configuration = specification.runConfiguration(parameters: context.trial.parameters)
            var (record, trace) = try TrainingRun.perform(configuration, observers: [reporter] + observers())
            record.role = .trial
            record.study = specification.name
            record.trialNumber = context.trial.number
            let run = StoredRun(record, traceRows: trace)
            switch record.status {
            case .completed:
                return TrialOutcome(state: .complete, value: record.bestValidationAccuracy, run: run)
            case .pruned:
                return TrialOutcome(state: .pruned, value: context.lastReportedValue, failureReason: record.failureReason, run: run)
            case .interrupted:
                return TrialOutcome(state: .fail, value: nil, failureReason: record.failureReason, run: run, interrupted: true)
            case .failed:
                return TrialOutcome(state: .fail, value: nil, failureReason: record.failureReason ?? "the run failed", run: run)
            }
        }
    }
}

/// Reports each epoch's validation accuracy to the trial and passes on a request to stop.
final class TrialReporter: TrainingObserver {
    let context: TrialContext
    private var step = 0
    private var reason: String?

    init(context: TrialContext) { self.context = context }

    func epochDidEnd(_ record: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int) {
        step += 1
        do {
            reason = try context.report(step: step, value: record.validationAccuracy)
        } catch {
            reason = "cannot report to the results store: \(error)"
        }
    }

    func stopReason() -> String? { reason }
}
