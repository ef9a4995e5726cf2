import Foundation
import Records

/// The run's summary columns, once: the store's `run` table and the runs CSV both read them from
/// this table (name, type, and how the value is read from the record), so that a column added
/// here reaches both.
public struct RunColumn: Sendable {
    public let name: String
    let type: ResultsStore.ColumnType
    /// A column of the store's `run` table (the others are in the CSV only; the store keeps
    /// them in the record).
    let stored: Bool
    let value: @Sendable (RunRecord) -> SQLValue
    /// The CSV's text where it differs from the value's (a seed above Int64's range).
    let text: (@Sendable (RunRecord) -> String)?

    init(_ name: String, _ type: ResultsStore.ColumnType, stored: Bool = true, text: (@Sendable (RunRecord) -> String)? = nil,
         _ value: @escaping @Sendable (RunRecord) -> SQLValue) {
        self.name = name
        self.type = type
        self.stored = stored
        self.text = text
        self.value = value
    }

    /// The value as a CSV field, before quoting.
    func csv(_ record: RunRecord) -> String {
        text?(record) ?? value(record).csvText
    }
}

extension SQLValue {
    /// The value as a CSV field, before quoting: numbers as Swift prints them, absent and
    /// non-finite values empty.
    var csvText: String {
        switch self {
        case .null: ""
        case .integer(let n): String(n)
        case .real(let x): x.isFinite ? "\(x)" : ""
        case .text(let s): s
        }
    }

    /// A number's value as a double (an integer column read back as REAL, or the reverse).
    var real: Double? {
        switch self {
        case .integer(let n): Double(n)
        case .real(let x): x
        default: nil
        }
    }
}

extension ResultsStore {
    enum ColumnType { case integer, real, text }

    /// Every summary column, in the runs CSV's order.
    public static let runColumns: [RunColumn] = [
        RunColumn("started_at", .text) { .text($0.startedAt) },
        RunColumn("algorithm", .text) { .text($0.algorithm) },
        RunColumn("dataset", .text) { .text($0.dataset) },
        RunColumn("architecture", .text) { .text($0.architecture) },
        RunColumn("seed", .integer, text: { String($0.seed) }) { .integer(Int64(bitPattern: $0.seed)) },
        RunColumn("status", .text) { .text($0.status.rawValue) },
        RunColumn("test_accuracy", .real) { $0.testAccuracy.sqlValue },
        RunColumn("effective_epochs", .integer) { .integer(Int64($0.effectiveEpochs)) },
        RunColumn("train_seconds", .real) { .real($0.trainSeconds) },
        RunColumn("samples_per_second", .real) { .real($0.samplesPerSecond) },
        RunColumn("train_flops", .integer) { .integer(Int64($0.trainFlops)) },
        RunColumn("energy_joules", .real) { $0.energyJoules.sqlValue },
        RunColumn("energy_source", .text) { $0.energySource.sqlValue },
        RunColumn("co2e_grams", .real) { $0.co2eGrams.sqlValue },
        RunColumn("peak_rss_bytes", .integer) { .integer(Int64($0.peakRSSBytes)) },
        RunColumn("threads", .integer) { .integer(Int64($0.threads)) },
        RunColumn("failure_reason", .text) { $0.failureReason.sqlValue },
        RunColumn("role", .text) { .text($0.role.rawValue) },
        RunColumn("study", .text) { $0.study.sqlValue },
        RunColumn("trial_number", .integer) { $0.trialNumber.map { .integer(Int64($0)) } ?? .null },
        RunColumn("comparison", .text) { $0.comparison.sqlValue },
    ] + inferenceColumns.map { column in
        RunColumn(column.name, column.type) { record in record.inference.map(column.value) ?? .null }
    } + [
        // What makes two runs different settings (the store keeps these in the record).
        RunColumn("train_limit", .integer, stored: false) { $0.trainLimit.map { .integer(Int64($0)) } ?? .null },
        RunColumn("protocol", .text, stored: false) { .text($0.trainingProtocol.rawValue) },
        RunColumn("max_epochs", .integer, stored: false) { .integer(Int64($0.stopping.maxEpochs)) },
        RunColumn("hyperparameters", .text, stored: false) { .text($0.hyperparameterSummary) },
    ]

    /// Schema v4: a run's inference cost as columns of `run` (the record holds it too), each
    /// with its type and how it is read from the record.
    static let inferenceMigration = "v4: inference columns"
    static let inferenceColumns: [(name: String, type: ColumnType, value: @Sendable (InferenceRecord) -> SQLValue)] = [
        ("inference_samples_per_second", .real, { .real($0.samplesPerSecond) }),
        ("inference_latency_median_ms", .real, { .real($0.latencyMedianMs) }),
        ("inference_latency_p95_ms", .real, { .real($0.latencyP95Ms) }),
        ("inference_flops_per_prediction", .real, { .real($0.flopsPerPrediction) }),
        ("inference_energy_joules_per_10k", .real, { $0.energyJoulesPer10k.sqlValue }),
        ("inference_energy_source", .text, { $0.energySource.sqlValue }),
        ("inference_peak_rss_bytes", .real, { .real(Double($0.peakRSSBytes)) }),
    ]
}
