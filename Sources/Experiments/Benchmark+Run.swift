import Foundation
import Records
import Results
import Training
import Tuning

extension Benchmark {
    /// How one arm ended: its best trial and its final runs.
    public struct ArmResult: Sendable {
        public var arm: Arm
        public var bestTrial: FrozenTrial?
        public var finalRuns: [StoredRun]
    }

    /// Tunes every arm (resuming its study), then retrains each best configuration with the
    /// final seeds, skipping final runs already in the store: an interrupted bench continues
    /// where it stopped. Throws `Interrupted` when a signal stopped it (a final run it stopped
    /// is stored, marked interrupted, and run again next time). `tune` runs one study to its end (in this process by default).
    public func run(_ arms: [Arm], store: ResultsStore, log: @escaping (String) -> Void,
                    observers: @escaping @Sendable () -> [any TrainingObserver] = { [] },
                    tune: ((StudySpecification, StoredStudy) throws -> Void)? = nil) throws -> [ArmResult] {
        for arm in arms {
            if suite.isTuned { try arm.study.validate() } else { try finalConfiguration(of: arm, parameters: [:], seed: finalSeeds[0]).validate() }
        }
        // Every dataset must load before hours of work start.
        for dataset in Set(arms.map(\.study.dataset)).sorted() {
            _ = try arms.first { $0.study.dataset == dataset }!.study.runConfiguration(parameters: [:]).loadData()
        }
        var results: [ArmResult] = []
        // Trials and final runs: the units of the bench's progress line.
        var progress = WorkProgress(total: arms.count * ((suite.isTuned ? suite.trials : 0) + finalSeeds.count))
        let clock = ContinuousClock()
        for (index, arm) in arms.enumerated() {
            try Interrupts.check()
            let spec = arm.study
            guard suite.isTuned else {
                log("[\(index + 1)/\(arms.count)] \(arm.comparison) \(spec.algorithm): untuned, its defaults — " + progress.line("runs done"))
                try runFinals(of: arm, parameters: [:], trial: nil, store: store, log: log, observers: observers, progress: &progress)
                results.append(ArmResult(arm: arm, bestTrial: nil, finalRuns: try store.finalRuns(study: spec.name)))
                continue
            }
            let stored = try store.openStudy(try spec.stored())
            log("[\(index + 1)/\(arms.count)] \(arm.comparison) \(spec.algorithm): study \(spec.name) — " + progress.line("trials and final runs done"))
            let finishedBefore = try store.trials(ofStudy: stored.id!).filter(\.state.isFinished).count
            let tuningStarted = clock.now
            if let tune {
                try tune(spec, stored)
            } else {
                let worker = StudyWorker(store: store, study: stored, space: try spec.searchSpace())
                worker.log = log
                try worker.run(objective: spec.objective(observers: observers))
            }
            try Interrupts.check()  // the study's worker processes gave their trials back
            let trials = try store.trials(ofStudy: stored.id!)
            let finished = trials.filter(\.state.isFinished).count
            progress.finished(finishedBefore, seconds: nil)
            progress.finished(finished - finishedBefore, seconds: (clock.now - tuningStarted).seconds)
            // One objective: the best trial; several: the knee of the Pareto front.
            let objectives = spec.objectives.map(\.studyObjective)
            guard let best = objectives.count > 1 ? trials.knee(objectives) : trials.best else {
                log("\(spec.name): no trial completed; no final runs")
                results.append(ArmResult(arm: arm, bestTrial: nil, finalRuns: []))
                continue
            }
            if objectives.count > 1 {
                log("\(spec.name): the knee of its Pareto front of \(trials.paretoFront(objectives).count) is trial \(best.number) ("
                    + zip(objectives, best.values ?? []).map { "\($0.name) \(String(format: "%.4g", $1))" }.joined(separator: ", ") + ")")
            }
            try runFinals(of: arm, parameters: best.parameters, trial: best.number, store: store, log: log, observers: observers,
                          progress: &progress)
            results.append(ArmResult(arm: arm, bestTrial: best, finalRuns: try store.finalRuns(study: spec.name)))
        }
        return results
    }

    /// The final runs of `arm` with `parameters` that the store does not hold yet.
    func runFinals(of arm: Arm, parameters: [String: Double], trial: Int?, store: ResultsStore, log: @escaping (String) -> Void,
                   observers: @escaping @Sendable () -> [any TrainingObserver], progress: inout WorkProgress) throws {
        let spec = arm.study
        let done = try store.finalRunSeeds(study: spec.name)
        progress.finished(finalSeeds.filter { done.contains(Int64(bitPattern: $0)) }.count, seconds: nil)
        let clock = ContinuousClock()
        for seed in finalSeeds where !done.contains(Int64(bitPattern: seed)) {
            let started = clock.now
            log("\(spec.name): final run, seed \(seed), " + (trial.map { "best trial \($0)" } ?? "defaults"))
            let (record, trace, model) = try IsolatedRun.perform(finalConfiguration(of: arm, parameters: parameters, seed: seed),
                                                                 observers: observers(), keepingModel: models != nil)
            let runID = try store.insert(StoredRun(record, traceRows: trace))
            if let models, var model {
                model.file.metadata["run_id"] = "\(runID)"
                model.file.metadata["study"] = spec.name
                do { log("\(spec.name): model saved to \(try models.saveFinal(model, study: spec.name, seed: seed))") } catch {
                    log("\(spec.name): the final run's model could not be saved: \(error)")
                }
            }
            progress.finished(1, seconds: (clock.now - started).seconds)
            log(record.summaryLine + " — " + progress.line(suite.isTuned ? "trials and final runs done" : "runs done"))
            try Interrupts.check()
        }
    }
}
