import Foundation

/// Where a trial stands (Optuna's names, stored as they are).
public enum TrialState: String, Sendable, Codable, CaseIterable {
    case running = "RUNNING", complete = "COMPLETE", pruned = "PRUNED", fail = "FAIL", waiting = "WAITING"

    /// Whether the trial has ended (complete, pruned or failed).
    public var isFinished: Bool { self == .complete || self == .pruned || self == .fail }
}

/// Whether a study maximises or minimises an objective (Optuna's names, stored as they are).
public enum StudyDirection: String, Sendable, Codable, CaseIterable {
    case maximize = "MAXIMIZE", minimize = "MINIMIZE"
}

/// One quantity a study optimises: its name (Optuna's metric name) and direction.
public struct StudyObjective: Sendable, Equatable, Codable {
    public var name: String
    public var direction: StudyDirection

    public init(name: String, direction: StudyDirection) {
        self.name = name
        self.direction = direction
    }

    /// The single objective of every study before multi-objective ones: validation accuracy, maximised.
    public static let validationAccuracy = StudyObjective(name: "validation_accuracy", direction: .maximize)
}

/// One trial of a study as stored: a frozen value, never updated in place.
public struct FrozenTrial: Sendable, Equatable {
    /// The store's row id.
    public var id: Int64
    /// 0-based position in its study.
    public var number: Int
    public var state: TrialState
    /// The first objective (validation accuracy, maximised); for a pruned trial its last intermediate value.
    public var value: Double?
    /// Every objective's value, in the study's order (a single-objective study: `[value]`).
    public var values: [Double]?
    /// Parameters in their internal representation (floats and ints as Double, categories by index).
    public var parameters: [String: Double]
    public var distributions: [String: SearchDistribution]
    /// Objective values reported while training, by step (cumulative epoch).
    public var intermediateValues: [Int: Double]
    public var failureReason: String?
    public var workerID: String?
    /// Unix time of the worker's last sign of life.
    public var heartbeat: Double?
    public var startedAt: String?
    public var completedAt: String?
    /// The run the trial trained, once finished.
    public var runID: Int64?
    /// The failed trial this one retries.
    public var retryOf: Int64?

    public init(id: Int64, number: Int, state: TrialState, value: Double? = nil, values: [Double]? = nil, parameters: [String: Double] = [:],
                distributions: [String: SearchDistribution] = [:], intermediateValues: [Int: Double] = [:],
                failureReason: String? = nil, workerID: String? = nil, heartbeat: Double? = nil, startedAt: String? = nil,
                completedAt: String? = nil, runID: Int64? = nil, retryOf: Int64? = nil) {
        self.id = id
        self.number = number
        self.state = state
        self.value = value ?? values?.first
        self.values = values ?? value.map { [$0] }
        self.parameters = parameters
        self.distributions = distributions
        self.intermediateValues = intermediateValues
        self.failureReason = failureReason
        self.workerID = workerID
        self.heartbeat = heartbeat
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.runID = runID
        self.retryOf = retryOf
    }

    /// The trial as a sampler sees it; nil for trials a sampler ignores (running, waiting, failed).
    public var observed: ObservedTrial? {
        switch state {
        case .complete: ObservedTrial(number: number, state: .complete, value: value, values: values, parameters: parameters)
        case .pruned: ObservedTrial(number: number, state: .pruned, value: value, lastStep: intermediateValues.keys.max(),
                                    parameters: parameters)
        case .running, .waiting, .fail: nil
        }
    }
}

extension SearchDistribution {
    /// Optuna's serialisation: `{"name": "FloatDistribution", "attributes": {...}}`.
    public var json: String {
        func number(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) + ".0" : "\(x)" }
        switch self {
        case .float(let low, let high, let log, let step):
            return #"{"name": "FloatDistribution", "attributes": {"step": \#(step.map(number) ?? "null"), "low": \#(number(low)), "high": \#(number(high)), "log": \#(log)}}"#
        case .integer(let low, let high, let log, let step):
            return #"{"name": "IntDistribution", "attributes": {"log": \#(log), "step": \#(step), "low": \#(low), "high": \#(high)}}"#
        case .categorical(let count):
            return #"{"name": "CategoricalDistribution", "attributes": {"choices": [\#((0..<count).map(String.init).joined(separator: ", "))]}}"#
        }
    }

    /// Parses Optuna's serialisation (as written by `json`); nil when it is not one.
    public init?(json: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let name = object["name"] as? String, let a = object["attributes"] as? [String: Any] else { return nil }
        switch name {
        case "FloatDistribution":
            guard let low = (a["low"] as? NSNumber)?.doubleValue, let high = (a["high"] as? NSNumber)?.doubleValue else { return nil }
            self = .float(low: low, high: high, log: (a["log"] as? Bool) ?? false, step: (a["step"] as? NSNumber)?.doubleValue)
        case "IntDistribution":
            guard let low = (a["low"] as? NSNumber)?.intValue, let high = (a["high"] as? NSNumber)?.intValue else { return nil }
            self = .integer(low: low, high: high, log: (a["log"] as? Bool) ?? false, step: (a["step"] as? NSNumber)?.intValue ?? 1)
        case "CategoricalDistribution":
            guard let choices = a["choices"] as? [Any] else { return nil }
            self = .categorical(count: choices.count)
        default:
            return nil
        }
    }

    /// A value in its external form as text: a real, an integer, or a category's index.
    public func external(_ internalValue: Double) -> String {
        switch self {
        case .float: "\(internalValue)"
        case .integer, .categorical: String(Int(internalValue))
        }
    }
}

extension Array where Element == FrozenTrial {
    /// How many trials are in each state, e.g. "12 complete, 1 fail".
    public var stateCounts: String {
        TrialState.allCases.compactMap { (state: TrialState) -> String? in
            let n = filter { $0.state == state }.count
            return n > 0 ? "\(n) \(state.rawValue.lowercased())" : nil
        }.joined(separator: ", ")
    }

    /// The trials that count towards a study's budget: all but the failed ones that were
    /// retried (a retry takes their place).
    public var countedTowardsBudget: [FrozenTrial] {
        let retried = Set(compactMap(\.retryOf))
        return filter { !($0.state == .fail && retried.contains($0.id)) }
    }

    /// The complete trial with the highest value (the study maximises).
    public var best: FrozenTrial? {
        filter { $0.state == .complete && $0.value != nil }.max { $0.value! < $1.value! }
    }

    /// The knee of a multi-objective study's front, the trial its final runs retrain: with both
    /// objectives scaled to [0, 1] over the front, the trial farthest from the straight line
    /// between the front's two ends (the most accurate and the cheapest), where a further gain
    /// in accuracy starts to cost the most; with one or two trials on the front, the most
    /// accurate. Ties go to the earlier trial. Nil without a complete trial.
    public func knee(_ objectives: [StudyObjective]) -> FrozenTrial? {
        let front = paretoFront(objectives)
        guard objectives.count == 2, front.count > 2 else { return front.max { ($0.value!, -$0.number) < ($1.value!, -$1.number) } }
        let losses = front.map { MultiObjective.losses($0.values!, objectives) }
        let scaled = losses.map { row in (0..<2).map { k in
            let column = losses.map { $0[k] }
            let (low, high) = (column.min()!, column.max()!)
            return high > low ? (row[k] - low) / (high - low) : 0
        } }
        let a = scaled[losses.indices.min { losses[$0][0] < losses[$1][0] }!], b = scaled[losses.indices.min { losses[$0][1] < losses[$1][1] }!]
        let (dx, dy) = (b[0] - a[0], b[1] - a[1])
        let distances = scaled.map { abs(dx * ($0[1] - a[1]) - dy * ($0[0] - a[0])) }
        var chosen = 0
        for k in front.indices where distances[k] > distances[chosen] { chosen = k }
        return front[chosen]
    }

    /// Optuna's `best_trials`: the complete trials no other complete trial dominates (as good in
    /// every objective, better in one), in trial order; a single objective's are its best value's.
    public func paretoFront(_ objectives: [StudyObjective]) -> [FrozenTrial] {
        let complete = filter { $0.state == .complete && $0.values?.count == objectives.count }
        let losses = complete.map { MultiObjective.losses($0.values!, objectives) }
        return zip(complete, MultiObjective.isParetoFront(losses)).filter(\.1).map(\.0).sorted { $0.number < $1.number }
    }
}
