import Foundation
import Results
import Tuning

/// A stored run with the fields of its run record the report needs.
public struct ReportRun: @unchecked Sendable {
    public var stored: StoredRun
    /// The run record as parsed JSON.
    let record: [String: Any]

    public init(_ stored: StoredRun) {
        self.stored = stored
        record = (try? JSONSerialization.jsonObject(with: Data(stored.recordJSON.utf8)) as? [String: Any]) ?? [:]
    }

    /// The record's value at a path of keys, e.g. ("stopping", "patience").
    private func value(at keys: [String]) -> Any? {
        keys.reduce(record as Any?) { ($0 as? [String: Any])?[$1] }
    }

    func number(_ keys: String...) -> Double? { (value(at: keys) as? NSNumber)?.doubleValue }

    func text(_ keys: String...) -> String? { value(at: keys) as? String }

    public var algorithm: String { stored.algorithm }
    public var seed: Int64 { stored.seed }
    public var testAccuracy: Double? { stored.testAccuracy }
    public var patience: Int? { number("stopping", "patience").map { Int($0) } }
    public var minDelta: Double? { number("stopping", "min_delta") }
    public var maxEpochs: Int? { number("stopping", "max_epochs").map { Int($0) } }
    public var trainLimit: Int? { number("train_limit").map { Int($0) } }
    public var peakTensorBytes: Double? { number("peak_tensor_bytes") }
    public var forwardFlopsPerSample: Double? { number("forward_flops_per_sample") }
    public var traceHz: Double? { number("trace_hz") }
    public var cpuModel: String? { text("environment", "cpu_model") }
    public var cores: Int? { number("environment", "cores").map { Int($0) } }
    public var blas: String? { text("environment", "blas") }
    public var version: String? { text("environment", "bpfree_version") }
    /// The stored hyperparameters as text, key-sorted.
    public var hyperparameters: [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(stored.hyperparametersJSON.utf8)) as? [String: Any] else { return [:] }
        return object.mapValues { "\($0)" }
    }
}

/// One arm of a comparison: an algorithm's runs (and its tuning study, if any).
public struct Arm: @unchecked Sendable {
    public var algorithm: String
    public var runs: [ReportRun]
    public var study: StoredStudy?
    public var trials: [FrozenTrial]
}

/// Arms trained on the same dataset and architecture: each algorithm against BP.
public struct Comparison: @unchecked Sendable {
    /// `dataset/architecture`.
    public var name: String
    public var dataset: String
    public var architecture: String
    /// BP first, then the other algorithms by name.
    public var arms: [Arm]

    /// The BP baseline arm, if present.
    public var baseline: Arm? { arms.first { $0.algorithm == "bp" } }
}

/// What a report is drawn from: the store's comparisons and studies.
public struct ReportData: @unchecked Sendable {
    public var comparisons: [Comparison]
    public var studies: [(study: StoredStudy, trials: [FrozenTrial])]
    /// `final` when the store holds benchmark final runs (only those are compared), else `train`
    /// (single runs), else `trial` (a store with tuning trials only).
    public var role: String

    /// Reads the store: benchmark final runs grouped by their comparison when there are any,
    /// otherwise single training runs (or else tuning trials) grouped by dataset and architecture.
    public init(store: ResultsStore) throws {
        let runs = try store.runs().map(ReportRun.init)
        let studies: [(study: StoredStudy, trials: [FrozenTrial])] = try store.studies().map { ($0, try store.trials(ofStudy: $0.id!)) }
        self.studies = studies
        let role = ["final", "train", "trial"].first { role in runs.contains { $0.stored.role == role } } ?? "train"
        self.role = role
        let chosen = runs.filter { $0.stored.role == role }
        var groups: [String: [ReportRun]] = [:]
        for run in chosen {
            groups[run.stored.comparison ?? "\(run.stored.dataset)/\(run.stored.architecture)", default: []].append(run)
        }
        comparisons = groups.keys.sorted().map { name in
            let members = groups[name]!
            let sortKey = { (algorithm: String) -> String in algorithm == "bp" ? "" : algorithm }
            let algorithms = Set(members.map(\.algorithm)).sorted { (a: String, b: String) -> Bool in sortKey(a) < sortKey(b) }
            let arms = algorithms.map { algorithm -> Arm in
                let armRuns = members.filter { $0.algorithm == algorithm }
                let studyName = armRuns.compactMap(\.stored.study).first
                let study = studies.first { $0.study.name == studyName }
                return Arm(algorithm: algorithm, runs: armRuns, study: study?.study, trials: study?.trials ?? [])
            }
            return Comparison(name: name, dataset: members[0].stored.dataset, architecture: members[0].stored.architecture, arms: arms)
        }
    }
}
