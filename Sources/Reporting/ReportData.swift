import Foundation
import Records
import Results
import Tuning

/// One arm of a comparison: an algorithm's runs (and its tuning study, if any).
public struct Arm: @unchecked Sendable {
    public var algorithm: String
    /// What the arm is in its comparison, from its run records.
    public var descriptor: AlgorithmDescriptor?
    public var runs: [StoredRun]
    public var study: StoredStudy?
    public var trials: [FrozenTrial]
}

/// Arms trained on the same dataset and architecture: each algorithm against its baseline (BP),
/// with its control where it declares one.
public struct Comparison: @unchecked Sendable {
    /// `dataset/architecture`.
    public var name: String
    public var dataset: String
    public var architecture: String
    /// The baseline first, then the rules by name, then the controls.
    public var arms: [Arm]
    /// Devices other than this comparison's on which the store holds runs of the same data and
    /// network: reported as their own comparisons, never pooled with this one.
    public var otherDevices: [String] = []

    /// The baseline arm, if present.
    public var baseline: Arm? { arms.first { $0.descriptor?.role == .baseline } }

    /// The control arm `arm` declares, if the comparison has it.
    public func control(of arm: Arm) -> Arm? {
        arm.descriptor?.control.flatMap { id in arms.first { $0.algorithm == id } }
    }
}

/// What a report is drawn from: the store's comparisons and studies.
public struct ReportData: @unchecked Sendable {
    public var comparisons: [Comparison]
    /// The final runs of a scaling suite (comparison `scaling:…`): points of cost curves, not comparisons.
    public var scaling: [StoredRun]
    public var studies: [(study: StoredStudy, trials: [FrozenTrial])]
    /// `final` when the store holds benchmark final runs (only those are compared), else `train`
    /// (single runs), else `trial` (a store with tuning trials only).
    public var role: RunRole

    /// Reads the store: benchmark final runs grouped by their comparison when there are any,
    /// otherwise single training runs (or else tuning trials) grouped by dataset and architecture.
    /// `describe` gives the descriptor of an algorithm id whose records carry none (records of
    /// builds before descriptors; the CLI passes the registry's).
    public init(store: ResultsStore, describe: (String) -> AlgorithmDescriptor? = { _ in nil }) throws {
        // A run a signal interrupted is no result: it was run again (or is still to be).
        let runs = try store.runs().filter { $0.status != .interrupted }
        let studies: [(study: StoredStudy, trials: [FrozenTrial])] = try store.studies().map { ($0, try store.trials(ofStudy: $0.id!)) }
        self.studies = studies
        let role = [RunRole.final, .train, .trial].first { role in runs.contains { $0.role == role } } ?? .train
        self.role = role
        let isScaling = { (run: StoredRun) in run.role == .final && run.comparison?.hasPrefix(RunRecord.scalingComparisonPrefix) == true }
        scaling = runs.filter(isScaling)
        let chosen = runs.filter { $0.role == role && !isScaling($0) }
        var groups: [String: [StoredRun]] = [:]
        for run in chosen {
            groups[run.comparison ?? "\(run.dataset)/\(run.architecture)", default: []].append(run)
        }
        let devices = groups.mapValues { Set($0.map(Self.deviceName)) }
        let split = Self.splitBySettings(groups, epochCapSplits: role != .final)
        comparisons = split.keys.sorted().map { name in
            let (original, members) = split[name]!
            let arms = Set(members.map(\.algorithm)).map { algorithm -> Arm in
                let armRuns = members.filter { $0.algorithm == algorithm }
                let studyName = armRuns.compactMap(\.study).first
                let study = studies.first { $0.study.name == studyName }
                return Arm(algorithm: algorithm, descriptor: armRuns.lazy.compactMap(\.descriptor).first ?? describe(algorithm),
                           runs: armRuns, study: study?.study, trials: study?.trials ?? [])
            }.sorted { a, b in
                let rank = { (arm: Arm) -> Int in [AlgorithmDescriptor.Role.baseline, .rule, .control].firstIndex(of: arm.descriptor?.role ?? .rule)! }
                return (rank(a), a.algorithm) < (rank(b), b.algorithm)
            }
            var comparison = Comparison(name: name, dataset: members[0].dataset, architecture: members[0].architecture, arms: arms)
            comparison.otherDevices = devices[original, default: []].subtracting(members.map(Self.deviceName)).sorted()
            return comparison
        }
    }

    /// Where a run computed, as the report names it: the GPU's name, or "the CPU".
    static func deviceName(_ run: StoredRun) -> String { run.environment?.gpu?.name ?? "the CPU" }

    /// Runs on the same data and network that differ in training-set size, protocol or device (and,
    /// outside a benchmark, whose suites set each arm's cap, in epoch cap) are different
    /// comparisons, never one arm: each group is split by the settings that vary within it,
    /// and those settings are named after the group's name.
    static func splitBySettings(_ groups: [String: [StoredRun]], epochCapSplits: Bool) -> [String: (original: String, runs: [StoredRun])] {
        let settings: [(StoredRun) -> String] = [
            { $0.trainLimit.map { "\($0) training samples" } ?? "all training samples" },
            { "protocol \($0.trainingProtocol.rawValue)" },
            { "on \(deviceName($0))" },
        ] + (epochCapSplits ? [{ "cap \($0.stopping.maxEpochs) epochs" }] : [])
        var split: [String: (original: String, runs: [StoredRun])] = [:]
        for (name, runs) in groups {
            let varying = settings.filter { setting in Set(runs.map(setting)).count > 1 }
            for run in runs {
                let suffix = varying.map { $0(run) }.joined(separator: ", ")
                split[suffix.isEmpty ? name : "\(name) (\(suffix))", default: (name, [])].runs.append(run)
            }
        }
        return split
    }
}
