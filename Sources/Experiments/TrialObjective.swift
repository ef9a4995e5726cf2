import Foundation
import Records
import Results
import Training
import Tuning

extension StudySpecification {
    /// The one objective of every study, whatever the algorithm: train the trial's configuration
    /// to its stop, report the validation accuracy after every epoch (step = epochs so far,
    /// summed over stages), stop when the pruner says so, and return the validation accuracy of
    /// the restored checkpoint (and, `keepingModels`, the tested model).
    public func objective(observers: @escaping @Sendable () -> [any TrainingObserver] = { [] }, keepingModels: Bool = false)
        -> @Sendable (TrialContext) throws -> TrialOutcome {
        let specification = self
        return { context in
            let reporter = TrialReporter(context: context)
            var configuration = specification.runConfiguration(parameters: context.trial.parameters)
            configuration.origin = .trial(context.trial.number, of: specification.name)
            let (record, trace, model) = try IsolatedRun.perform(configuration, observers: [reporter] + observers(), keepingModel: keepingModels)
            let run = StoredRun(record, traceRows: trace)
            switch record.status {
            case .completed:
                let values = specification.objectives.map { $0.value(of: record) }
                guard let measured = values as? [Double] else {
                    let missing = zip(specification.objectives, values).filter { $0.1 == nil }.map(\.0.rawValue).joined(separator: ", ")
                    return TrialOutcome(state: .fail, value: nil, failureReason: "the run has no \(missing)", run: run)
                }
                return TrialOutcome(state: .complete, values: measured, run: run, model: model)
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
///
/// A store that cannot be reached (a PostgreSQL outage) stops nothing: the run goes on and only
/// that epoch's intermediate value is missing; a trial is pruned only by its pruner, and failed
/// only when it was taken over (an outage that outlasted the heartbeat). Before, any report
/// error pruned the trial, counted towards the budget under `--pruner none`.
final class TrialReporter: TrainingObserver {
    private let report: (_ step: Int, _ value: Double) throws -> (status: RunStatus, reason: String)?
    private var step = 0
    private var request: (status: RunStatus, reason: String)?

    init(context: TrialContext) { report = context.report(step:value:) }

    /// A reporter on any report function (tests: a store that fails).
    init(report: @escaping (_ step: Int, _ value: Double) throws -> (status: RunStatus, reason: String)?) { self.report = report }

    func epochDidEnd(_ record: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int) {
        step += 1
        // NOTE: an error leaves the earlier request as it was (none: a stop request ends the run).
        request = (try? report(step, record.validationAccuracy)) ?? request
    }

    func stopRequest() -> (status: RunStatus, reason: String)? { request }
}
