import Dispatch
import Foundation
import Records
import Results
import Training
import Tuning

/// How one trial ended, as its objective reports it.
public struct TrialOutcome: Sendable {
    public var state: TrialState
    /// The objectives' values in the study's order (validation accuracy first); for a pruned
    /// trial, its last intermediate value.
    public var values: [Double]?
    /// The first objective.
    public var value: Double? { values?.first }
    public var failureReason: String?
    /// The run the trial trained, stored with the trial's end.
    public var run: StoredRun?
    /// A signal stopped the run: the trial goes back to its study (failed, retried, not counted).
    public var interrupted: Bool
    /// The tested model, when the study keeps its best trials' models.
    public var model: SavedModel?

    public init(state: TrialState, value: Double?, failureReason: String? = nil, run: StoredRun? = nil, interrupted: Bool = false,
                model: SavedModel? = nil) {
        self.init(state: state, values: value.map { [$0] }, failureReason: failureReason, run: run, interrupted: interrupted, model: model)
    }

    /// An outcome with one value per objective.
    public init(state: TrialState, values: [Double]?, failureReason: String? = nil, run: StoredRun? = nil, interrupted: Bool = false,
                model: SavedModel? = nil) {
        self.state = state
        self.values = values
        self.failureReason = failureReason
        self.run = run
        self.interrupted = interrupted
        self.model = model
    }
}

/// What an objective may do while its trial runs: report intermediate values and learn whether
/// to stop (pruned by the study's pruner, or the trial was taken from this worker).
public final class TrialContext: @unchecked Sendable {
    public let trial: FrozenTrial
    let store: ResultsStore
    let studyID: Int64
    let workerID: String
    let pruner: PercentilePruner?
    private let lock = NSLock()
    private var lost = false
    private var reported: [Int: Double] = [:]

    init(trial: FrozenTrial, store: ResultsStore, studyID: Int64, workerID: String, pruner: PercentilePruner?) {
        self.trial = trial
        self.store = store
        self.studyID = studyID
        self.workerID = workerID
        self.pruner = pruner
    }

    /// Stores `value` at `step`; returns how and why to stop now (the trial taken over: failed;
    /// the pruner: pruned), or nil to go on. Throws when the store cannot be reached.
    public func report(step: Int, value: Double) throws -> (status: RunStatus, reason: String)? {
        reported[step] = value
        if try !store.reportIntermediate(trialID: trial.id, workerID: workerID, step: step, value: value) { markLost() }
        if let reason = lostReason { return (.failed, reason) }
        guard let pruner else { return nil }
        let completed = try store.trials(ofStudy: studyID).filter { $0.state == .complete }.map(\.intermediateValues)
        guard pruner.shouldPrune(reported, completed: completed) else { return nil }
        let best = reported.values.filter { !$0.isNaN }.max() ?? .nan
        return (.pruned, "pruned at step \(step): best value so far \(best) is below the median of the completed trials at that step")
    }

    /// The last value reported (a pruned trial's value).
    public var lastReportedValue: Double? { reported.keys.max().map { reported[$0]! } }

    func markLost() { lock.withLock { lost = true } }

    /// Set when the trial is no longer this worker's (failed as stale by another worker).
    var lostReason: String? {
        lock.withLock { lost ? "the trial was failed as stale and taken over by another worker" : nil }
    }
}

/// One worker of a study: claims trials through the store until the budget is used up, keeps a
/// heartbeat for the trial it runs, and records how each trial ended. Several workers (threads
/// or processes) may work on one study; the store's transactions keep them apart.
public final class StudyWorker {
    public let store: ResultsStore
    public let study: StoredStudy
    public let space: [(name: String, distribution: SearchDistribution)]
    public let workerID: String
    /// Seconds between heartbeats; a running trial whose last heartbeat is older than
    /// `staleAfter` is failed by the next worker that asks for work, and retried.
    public var heartbeatInterval: Double
    public var staleAfter: Double
    /// Progress lines (trial started, ended).
    public var log: (String) -> Void = { _ in }
    /// Where the best trials' models go (the objective keeps them), or nil.
    public var models: ModelFolder?

    public init(store: ResultsStore, study: StoredStudy, space: [(name: String, distribution: SearchDistribution)],
                workerID: String = StudyWorker.defaultWorkerID(), heartbeatInterval: Double = 5, staleAfter: Double? = nil) {
        self.store = store
        self.study = study
        self.space = space
        self.workerID = workerID
        self.heartbeatInterval = heartbeatInterval
        self.staleAfter = staleAfter ?? 4 * heartbeatInterval
    }

    /// `host-pid-random`.
    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Runs trials until the study is done; returns how many this worker ran. Throws
    /// `Interrupted` after giving back the trial a signal stopped.
    @discardableResult
    public func run(objective: (TrialContext) throws -> TrialOutcome) throws -> Int {
        guard let studyID = study.id else { preconditionFailure("the study must be stored first") }
        let sampler = StudySampler(kind: StudySampler.Kind(rawValue: study.sampler) ?? .tpe, seed: UInt64(study.samplerSeed))
        let pruner: PercentilePruner? = study.pruner == StudySpecification.Pruner.median.rawValue ? .median : nil
        let distributions = Dictionary(uniqueKeysWithValues: space.map { ($0.name, $0.distribution) })
        var ran = 0
        var progress = WorkProgress(total: study.trialBudget)
        let clock = ContinuousClock()
        while true {
            try Interrupts.check()
            let claim = try store.claimTrial(studyID: studyID, workerID: workerID, staleAfter: staleAfter) { trials, number in
                sampler.parameters(forTrial: number, space: space, trials: trials, objectives: study.objectives)
                    .reduce(into: [:]) { $0[$1.key] = (value: $1.value, distribution: distributions[$1.key]!) }
            }
            switch claim {
            case .done:
                return ran
            case .wait:
                Thread.sleep(forTimeInterval: min(heartbeatInterval, 1))
                continue
            case .trial(let trial):
                ran += 1
                let context = TrialContext(trial: trial, store: store, studyID: studyID, workerID: workerID, pruner: pruner)
                log("trial \(trial.number) of \(study.name) started: " + trial.parameters.sorted { $0.key < $1.key }
                    .map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
                let heartbeat = startHeartbeat(for: trial, context: context)
                let started = clock.now
                var outcome: TrialOutcome
                do {
                    outcome = try objective(context)
                } catch is Interrupted {
                    outcome = TrialOutcome(state: .fail, value: nil, interrupted: true)
                } catch {
                    outcome = TrialOutcome(state: .fail, value: nil, failureReason: "\(error)")
                }
                heartbeat.cancel()
                if outcome.interrupted {
                    let reason = outcome.failureReason ?? Interrupts.reason ?? "interrupted"
                    try store.giveBackTrial(trialID: trial.id, studyID: studyID, workerID: workerID, reason: reason, run: outcome.run)
                    log("trial \(trial.number) of \(study.name) \(reason): given back to the study")
                    try Interrupts.check()
                    continue
                }
                if outcome.state == .complete, outcome.values?.count != study.objectives.count || !(outcome.values?.allSatisfy(\.isFinite) ?? false) {
                    let values = outcome.values.map { $0.map { "\($0)" }.joined(separator: ", ") } ?? "missing"
                    let reason = study.objectives.count == 1
                        ? "the objective is \(values)" : "the objectives (\(study.objectives.map(\.name).joined(separator: ", "))) are \(values)"
                    outcome = TrialOutcome(state: .fail, value: nil, failureReason: reason, run: outcome.run)
                }
                try store.finishTrial(trialID: trial.id, workerID: workerID, state: outcome.state, values: outcome.values,
                                      failureReason: outcome.failureReason, run: outcome.run)
                if let models, outcome.state == .complete {
                    let best = Set(try store.trials(ofStudy: studyID).paretoFront(study.objectives).map(\.number))
                    do { try models.keepBest(outcome.model, trial: trial.number, study: study.name, best: best) } catch {
                        log("trial \(trial.number) of \(study.name): its model could not be saved: \(error)")
                    }
                }
                // Finished by any worker so far; the pace is this worker's.
                let finished = try store.trials(ofStudy: studyID).filter(\.state.isFinished).count
                progress.finished(max(0, finished - progress.done - 1), seconds: nil)
                progress.finished(1, seconds: (clock.now - started).seconds)
                log("trial \(trial.number) of \(study.name) \(outcome.state.rawValue.lowercased())"
                    + (outcome.values.map { $0.count == 1 ? ": value " + String(format: "%.4f", $0[0])
                                                          : ": values " + $0.map { String(format: "%.4g", $0) }.joined(separator: ", ") } ?? "")
                    + (outcome.failureReason.map { " (\($0))" } ?? "")
                    + " — " + progress.line("trials finished") + (progress.done < progress.total ? " at this worker's pace" : ""))
            }
        }
    }

    private func startHeartbeat(for trial: FrozenTrial, context: TrialContext) -> any DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + heartbeatInterval, repeating: heartbeatInterval)
        let (store, workerID) = (self.store, self.workerID)
        timer.setEventHandler {
            if (try? store.recordHeartbeat(trialID: trial.id, workerID: workerID)) == false { context.markLost() }
        }
        timer.resume()
        return timer
    }
}
