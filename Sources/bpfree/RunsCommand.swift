import ArgumentParser
import Foundation
import Results

/// `bpfree runs`: the runs in the results store, one line each.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List the runs in the results store.")

    @Option(help: "Results store (SQLite).")
    var store = "bpfree.sqlite"

    func run() throws {
        guard FileManager.default.fileExists(atPath: store) else { throw ValidationError("--store: \(store) does not exist") }
        let runs = try ResultsStore(path: store).runs()
        print(["id", "started", "algorithm", "dataset", "architecture", "seed", "status", "test acc", "epochs", "seconds", "energy"]
            .joined(separator: "\t"))
        for r in runs {
            let energy = r.energyJoules.map { String(format: "%.0f J", $0) + " (\(r.energySource ?? "?"))" } ?? "-"
            print([String(r.id ?? 0), r.startedAt, r.algorithm, r.dataset, r.architecture, String(r.seed), r.status,
                   r.testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-", String(r.effectiveEpochs),
                   String(format: "%.1f", r.trainSeconds), energy].joined(separator: "\t"))
        }
    }
}

/// `bpfree export`: runs or epochs as CSV or JSON.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export the runs (or their epochs) as CSV or JSON.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }
    enum Table: String, ExpressibleByArgument, CaseIterable { case runs, epochs }

    @Option(help: "Results store (SQLite).")
    var store = "bpfree.sqlite"

    @Option(help: "csv or json.")
    var format: Format = .csv

    @Option(help: "runs or epochs (CSV only; JSON always holds the full run records).")
    var table: Table = .runs

    @Option(help: "Write to this file (atomically) instead of standard output.")
    var output: String?

    func run() throws {
        guard FileManager.default.fileExists(atPath: store) else { throw ValidationError("--store: \(store) does not exist") }
        let runs = try ResultsStore(path: store).runs()
        let text = switch (format, table) {
        case (.json, _): try ResultsExport.runsJSON(runs)
        case (.csv, .runs): ResultsExport.runsCSV(runs)
        case (.csv, .epochs): ResultsExport.epochsCSV(runs)
        }
        guard let output else { print(text, terminator: ""); return }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw ValidationError("--output: cannot write \(output): \(error.localizedDescription)")
        }
    }
}
