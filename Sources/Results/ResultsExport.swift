import Foundation

/// Runs and epochs as CSV or JSON, for spreadsheets and scripts.
public enum ResultsExport {
    /// One line per run. Columns: id, started_at, algorithm, dataset, architecture, seed, status,
    /// test_accuracy, effective_epochs, train_seconds, samples_per_second, train_flops,
    /// energy_joules, energy_source, co2e_grams, peak_rss_bytes, threads, failure_reason.
    public static func runsCSV(_ runs: [StoredRun]) -> String {
        var lines = ["id,started_at,algorithm,dataset,architecture,seed,status,test_accuracy,effective_epochs,train_seconds,"
            + "samples_per_second,train_flops,energy_joules,energy_source,co2e_grams,peak_rss_bytes,threads,failure_reason"]
        for r in runs {
            let fields: [String] = [
                r.id.map(String.init) ?? "", r.startedAt, r.algorithm, r.dataset, r.architecture, String(r.seed), r.status,
                number(r.testAccuracy), String(r.effectiveEpochs), number(r.trainSeconds), number(r.samplesPerSecond),
                String(r.trainFlops), number(r.energyJoules), r.energySource ?? "", number(r.co2eGrams),
                String(r.peakRSSBytes), String(r.threads), r.failureReason ?? "",
            ]
            lines.append(fields.map(quoted).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per epoch of every run: run_id, stage, epoch, train_loss, val_loss, val_accuracy,
    /// seconds, val_seconds.
    public static func epochsCSV(_ runs: [StoredRun]) -> String {
        var lines = ["run_id,stage,epoch,train_loss,val_loss,val_accuracy,seconds,val_seconds"]
        for r in runs {
            for e in r.epochs {
                lines.append([r.id.map(String.init) ?? "", quoted(e.stage), String(e.epoch), number(e.trainLoss), number(e.valLoss),
                              number(e.valAccuracy), number(e.seconds), number(e.valSeconds)].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The full run records as a JSON array, each with its store `id`.
    public static func runsJSON(_ runs: [StoredRun]) throws -> String {
        var objects: [Any] = []
        for r in runs {
            guard var object = try JSONSerialization.jsonObject(with: Data(r.recordJSON.utf8)) as? [String: Any] else { continue }
            object["id"] = r.id
            objects.append(object)
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "" }
        return value.isFinite ? "\(value)" : ""
    }

    /// RFC 4180 quoting where needed.
    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
