import Foundation
import Records
import Results
import Tuning

/// The asymmetries of protocol §7 found in a comparison's stored runs and studies.
public enum FairnessAudit {
    /// One asymmetry: what differs, and between which arms (or studies, or runs).
    public struct Finding: Sendable, Equatable {
        /// A short kind, e.g. "stopping rule".
        public var kind: String
        public var detail: String
    }

    /// Every asymmetry between the arms of `comparison`, plus those among `studies` that concern it.
    public static func findings(in comparison: Comparison, allStudies: [(study: StoredStudy, trials: [FrozenTrial])]) -> [Finding] {
        var findings: [Finding] = []
        if comparison.baseline == nil {
            findings.append(Finding(kind: "baseline", detail: "no baseline (BP) run on \(comparison.name): nothing to compare against"))
        }
        func differs<T: Hashable>(_ kind: String, _ what: String, _ value: (StoredRun) -> T?) {
            var values: [String: Set<String>] = [:]
            for arm in comparison.arms {
                for run in arm.runs { values[arm.algorithm, default: []].insert(value(run).map { "\($0)" } ?? "unknown") }
            }
            let distinct = Set(values.values.flatMap { $0 })
            guard distinct.count > 1 else { return }
            let listing = values.keys.sorted().map { "\($0): \(values[$0]!.sorted().joined(separator: ", "))" }.joined(separator: "; ")
            findings.append(Finding(kind: kind, detail: "\(what) differs between runs — \(listing)"))
        }
        // Time and energy taken while other processes used the CPUs are not the arm's own.
        let loaded = comparison.arms.compactMap { arm -> String? in
            let contended = arm.runs.filter { $0.record.windowContention?.contended == true }
            guard !contended.isEmpty else { return nil }
            let other = contended.map { $0.record.windowContention!.otherCPUSeconds / max($0.record.windowContention!.seconds, 1e-9) }.max()!
            return "\(arm.algorithm): \(contended.count) of \(arm.runs.count) runs (up to \(String(format: "%.2f", other)) CPUs busy elsewhere)"
        }
        if !loaded.isEmpty {
            findings.append(Finding(kind: "measured under load", detail: "time and energy were measured while other processes used the CPUs — "
                                    + loaded.joined(separator: "; ")))
        }
        differs("stopping rule", "the protocol") { $0.trainingProtocol.rawValue }
        differs("stopping rule", "the monitored value") { $0.stopping.monitor }
        differs("stopping rule", "patience") { $0.stopping.patience }
        differs("stopping rule", "min_delta") { $0.stopping.minDelta }
        differs("stopping rule", "epoch cap") { $0.stopping.maxEpochs }
        differs("data", "training-sample limit") { $0.trainLimit.map { "\($0) samples" } ?? "the full training split" }
        differs("energy source", "the energy source") { $0.energySource }
        differs("measurement window", "the trace sampling rate") { $0.traceHz }
        differs("threads", "the BLAS thread count") { $0.threads }
        differs("hardware", "the CPU") { run in run.environment.map { "\($0.cpuModel), \($0.cores) cores" } }
        if !comparison.otherDevices.isEmpty {
            findings.append(Finding(kind: "device", detail: "the store also holds runs of \(comparison.dataset)/\(comparison.architecture) on "
                                    + comparison.otherDevices.joined(separator: ", ") + ": reported as their own comparison, never pooled with these"))
        }

        // Tuning: pruning, trial budgets, epoch budgets per trial (arms with a study).
        let studies = comparison.arms.compactMap { arm in arm.study.map { (arm.algorithm, $0) } }
        if studies.count < comparison.arms.count, !studies.isEmpty {
            let untuned = comparison.arms.filter { $0.study == nil }.map(\.algorithm)
            findings.append(Finding(kind: "tuning", detail: "tuned arms: \(studies.map(\.0).joined(separator: ", ")); not tuned: \(untuned.joined(separator: ", "))"))
        }
        func studyDiffers(_ kind: String, _ what: String, _ value: (StoredStudy) -> String) {
            let values = Dictionary(studies.map { ($0.0, value($0.1)) }, uniquingKeysWith: { a, _ in a })
            guard Set(values.values).count > 1 else { return }
            findings.append(Finding(kind: kind, detail: "\(what) differs — " + values.keys.sorted().map { "\($0): \(values[$0]!)" }.joined(separator: "; ")))
        }
        studyDiffers("pruning", "the pruner") { $0.pruner }
        studyDiffers("trial budget", "the trial budget") { "\($0.trialBudget)" }
        studyDiffers("epoch budget", "the epochs per trial") { "\($0.epochsPerTrial)" }
        studyDiffers("sampler", "the sampler") { $0.sampler }

        // Shared sampler seeds: any two studies of the store (one of them in this comparison).
        let names = Set(studies.map(\.1.name))
        var seen: [Int64: String] = [:]
        for entry in allStudies {
            if let other = seen[entry.study.samplerSeed], names.contains(other) || names.contains(entry.study.name) {
                findings.append(Finding(kind: "sampler seed", detail: "studies \(other) and \(entry.study.name) share sampler seed \(entry.study.samplerSeed)"))
            }
            seen[entry.study.samplerSeed] = seen[entry.study.samplerSeed] ?? entry.study.name
        }
        // Identical best hyperparameters between arms of the same algorithm family.
        let bests = comparison.arms.compactMap { arm -> (String, [String: Double])? in
            guard let best = arm.trials.best else { return nil }
            return (arm.algorithm, best.parameters)
        }
        for i in bests.indices { for j in bests.indices where j > i && !bests[i].1.isEmpty && bests[i].1 == bests[j].1 {
            findings.append(Finding(kind: "identical hyperparameters", detail: "\(bests[i].0) and \(bests[j].0) have byte-identical best hyperparameters"))
        } }

        // Arms that never learned, or were cut off while still learning: their deltas are no result.
        for arm in comparison.arms {
            if let reason = whyNotAFinding(arm, in: comparison) { findings.append(Finding(kind: "not a finding", detail: "\(arm.algorithm): \(reason)")) }
        }

        // Seeds: tuning trials share the study's seed by design; only final and single runs count.
        guard comparison.arms.allSatisfy({ $0.runs.allSatisfy { $0.role != .trial } }) else { return findings }
        // Repeated seeds within an arm's final runs.
        for arm in comparison.arms {
            let seeds = arm.runs.map(\.seed)
            let repeated = Set(seeds.filter { seed in seeds.filter { $0 == seed }.count > 1 })
            if !repeated.isEmpty {
                findings.append(Finding(kind: "repeated seeds", detail: "\(arm.algorithm) repeats seed(s) \(repeated.sorted().map(String.init).joined(separator: ", "))"))
            }
        }
        // Different seed sets between arms make the deltas unpaired.
        let seedSets = Set(comparison.arms.map { Set($0.runs.map(\.seed)) })
        if seedSets.count > 1 {
            findings.append(Finding(kind: "unpaired seeds", detail: "the arms ran different seeds; deltas are not paired"))
        }
        return findings
    }

    /// How close to chance a mean test accuracy may be and still count as learning.
    public static let chanceMargin = 0.10
    /// A validation-accuracy gain in a run's last epoch at its cap that says it was still learning.
    public static let stillLearningGain = 0.01

    /// Why an arm's figures are not a finding, or nil: a mean test accuracy within
    /// `chanceMargin` of chance (1/classes), or runs that ended at their epoch cap with
    /// validation accuracy still rising by `stillLearningGain` or more in the last epoch.
    public static func whyNotAFinding(_ arm: Arm) -> String? { whyNotAFinding(arm.runs) }

    /// A rule within this many points of its control's mean test accuracy (or below it) shows no
    /// learning of its hidden layers that a trained output layer on random ones lacks.
    public static let controlMargin = 1.5

    /// `whyNotAFinding` of an arm, and whether it does better than the control its comparison carries for it.
    public static func whyNotAFinding(_ arm: Arm, in comparison: Comparison) -> String? {
        whyNotAFinding(arm.runs, control: comparison.control(of: arm).map { ($0.algorithm, $0.runs) })
    }

    /// `whyNotAFinding` of runs, and whether they do better than their control's runs.
    public static func whyNotAFinding(_ runs: [StoredRun], control: (id: String, runs: [StoredRun])?) -> String? {
        var reasons = whyNotAFinding(runs).map { [$0] } ?? []
        let mean = { (runs: [StoredRun]) -> Double? in
            let accuracies = runs.compactMap(\.testAccuracy)
            return accuracies.isEmpty ? nil : accuracies.reduce(0, +) / Double(accuracies.count) * 100
        }
        if let control, let rule = mean(runs), let floor = mean(control.runs), rule - floor < controlMargin {
            let gap = rule < floor ? String(format: "%.2f points below it", floor - rule)
                                   : String(format: "within %.1f points", controlMargin)
            reasons.append(String(format: "no better than the %@ control (%.2f%% vs %.2f%%, %@)", control.id, rule, floor, gap))
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// `whyNotAFinding` of an arm's runs.
    public static func whyNotAFinding(_ runs: [StoredRun]) -> String? {
        let accuracies = runs.compactMap(\.testAccuracy)
        guard !accuracies.isEmpty else { return nil }
        let classes = runs.compactMap(\.classCount).first ?? (runs.first?.dataset == "cifar100" ? 100 : 10)
        let chance = 1 / Double(max(classes, 1))
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        var reasons: [String] = []
        if mean < chance + chanceMargin {
            reasons.append(String(format: "test accuracy %.1f%% is near chance (%.1f%% for %d classes)", mean * 100, chance * 100, classes))
        }
        let cutOff = runs.filter { run in
            guard let last = run.stages.last else { return false }
            let rule = last.stopping ?? run.stopping
            let curve = run.epochs.filter { $0.stage == last.name }
            guard rule.monitor != "none", last.epochs >= rule.maxEpochs, curve.count >= 2 else { return false }
            return curve[curve.count - 1].validationAccuracy - curve[curve.count - 2].validationAccuracy >= stillLearningGain
        }
        if !cutOff.isEmpty {
            reasons.append(String(format: "%d of %d runs stopped at the epoch cap while validation accuracy still rose by ≥ %.0f pp an epoch; the budget, not the algorithm, set its accuracy",
                                  cutOff.count, runs.count, stillLearningGain * 100))
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}
