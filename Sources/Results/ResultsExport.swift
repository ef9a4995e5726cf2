import Foundation
import Records
import Tuning

/// Runs and epochs as CSV or JSON, for spreadsheets and scripts.
public enum ResultsExport {
    /// One line per run: its store `id`, then `ResultsStore.runColumns` (identity, status,
    /// accuracy, time, FLOPs, energy, memory, role, the inference cost, and what makes two runs
    /// different settings: train_limit — empty for the full training split —, protocol,
    /// max_epochs and the hyperparameters as sorted `key=value` pairs joined by spaces).
    public static func runsCSV(_ runs: [StoredRun]) -> String {
        let columns = ResultsStore.runColumns
        var lines = [(["id"] + columns.map(\.name)).joined(separator: ",")]
        for r in runs {
            lines.append(([r.id.map(String.init) ?? ""] + columns.map { $0.csv(r.record) }).map(quoted).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The full run records as a JSON array, each with its store `id`.
    public static func runsJSON(_ runs: [StoredRun]) throws -> String {
        var objects: [Any] = []
        for r in runs {
            guard var object = try JSONSerialization.jsonObject(with: try r.record.jsonData()) as? [String: Any] else { continue }
            object["id"] = r.id
            objects.append(object)
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// One line per trial of every study: study, number, state, value, one `param:NAME` column
    /// per parameter (external form), failure_reason, worker_id, started_at, completed_at,
    /// run_id, retry_of, and the intermediate values as `step:value` pairs.
    public static func trialsCSV(_ studies: [(StoredStudy, [FrozenTrial])]) -> String {
        let names = Set(studies.flatMap { $0.1.flatMap(\.parameters.keys) }).sorted()
        var lines = [(["study", "number", "state", "value"] + names.map { "param:\($0)" }
            + ["failure_reason", "worker_id", "started_at", "completed_at", "run_id", "retry_of", "intermediate_values"]).joined(separator: ",")]
        for (study, trials) in studies {
            for t in trials {
                let parameters = names.map { name in
                    t.parameters[name].map { t.distributions[name]?.external($0) ?? "\($0)" } ?? ""
                }
                let intermediate = t.intermediateValues.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
                let fields = [study.name, String(t.number), t.state.rawValue, number(t.value)] + parameters
                    + [t.failureReason ?? "", t.workerID ?? "", t.startedAt ?? "", t.completedAt ?? "",
                       t.runID.map(String.init) ?? "", t.retryOf.map(String.init) ?? "", intermediate]
                lines.append(fields.map(quoted).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every study with its settings and trials (parameters in internal and external form,
    /// distributions as Optuna writes them, intermediate values) as a JSON array.
    public static func studiesJSON(_ studies: [(StoredStudy, [FrozenTrial])]) throws -> String {
        let objects: [[String: Any]] = studies.map { study, trials in
            [
                "id": study.id as Any, "name": study.name, "algorithm": study.algorithm, "dataset": study.dataset,
                "architecture": study.architecture, "direction": "maximize", "sampler": study.sampler,
                "sampler_seed": study.samplerSeed, "pruner": study.pruner, "trial_budget": study.trialBudget,
                "epochs_per_trial": study.epochsPerTrial, "created_at": study.createdAt,
                "settings": (try? JSONSerialization.jsonObject(with: Data(study.settingsJSON.utf8))) ?? study.settingsJSON,
                "trials": trials.map { t -> [String: Any] in
                    [
                        "number": t.number, "state": t.state.rawValue, "value": t.value.flatMap { $0.isFinite ? $0 : nil } ?? NSNull(),
                        "params_internal": t.parameters,
                        "params": Dictionary(uniqueKeysWithValues: t.parameters.map { ($0.key, t.distributions[$0.key]?.external($0.value) ?? "\($0.value)") }),
                        "distributions": t.distributions.mapValues(\.json),
                        "intermediate_values": Dictionary(uniqueKeysWithValues: t.intermediateValues.map { (String($0.key), $0.value.isFinite ? $0.value as Any : NSNull()) }),
                        "failure_reason": t.failureReason ?? NSNull(), "worker_id": t.workerID ?? NSNull(),
                        "started_at": t.startedAt ?? NSNull(), "completed_at": t.completedAt ?? NSNull(),
                        "run_id": t.runID ?? NSNull(), "retry_of": t.retryOf ?? NSNull(),
                    ]
                },
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "" }
        return value.isFinite ? "\(value)" : ""
    }

    /// RFC 4180 quoting where needed. A text that a spreadsheet would run as a formula (it
    /// starts with `=`, `+`, `-`, `@`, a tab or a carriage return and is not a number) gets a
    /// leading `'`, as OWASP advises against CSV injection: `=HYPERLINK(…)` stays text.
    public static func quoted(_ field: String) -> String {
        var field = field
        if let first = field.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(field) == nil {
            field = "'" + field
        }
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
