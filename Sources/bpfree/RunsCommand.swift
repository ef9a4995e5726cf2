import ArgumentParser
import Foundation
import Records
import Results

/// `bpfree runs`: the runs in the results store, one line each.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List the runs in the results store.")

    @OptionGroup var storeOption: StoreOption

    func run() throws {
        let runs = try storeOption.openExisting().runs()
        print(["id", "started", "role", "algorithm", "dataset", "architecture", "train samples", "protocol", "seed", "status", "test acc",
               "epochs", "seconds", "energy", "options"].joined(separator: "\t"))
        for r in runs {
            let energy = r.energyJoules.map { String(format: "%.0f J", $0) + " (\(r.energySource ?? "?"))" } ?? "-"
            print([String(r.id ?? 0), r.startedAt, r.role.rawValue + (r.study.map { " \($0)" } ?? "") + (r.trialNumber.map { "#\($0)" } ?? ""),
                   r.algorithm, r.dataset, r.architecture, r.trainLimit.map(String.init) ?? "all", r.trainingProtocol.rawValue,
                   String(r.seed), r.status.rawValue,
                   r.testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-", String(r.effectiveEpochs),
                   String(format: "%.1f", r.trainSeconds), energy,
                   r.hyperparameterSummary]
                .map(printable).joined(separator: "\t"))
        }
    }
}

/// `bpfree export`: runs or epochs as CSV or JSON.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export the runs (or their epochs or stages) as CSV or JSON.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }
    enum Table: String, ExpressibleByArgument, CaseIterable { case runs, epochs, stages, trials }

    @OptionGroup var storeOption: StoreOption

    @Option(help: "csv or json.")
    var format: Format = .csv

    @Option(help: "runs, epochs, stages or trials (JSON: the full run records, or for trials every study with its trials).")
    var table: Table = .runs

    @Option(help: "Write to this file (atomically) instead of standard output.")
    var output: String?

    func run() throws {
        let results = try storeOption.openExisting()
        let text: String
        if table == .trials {
            let studies = try results.studies().map { ($0, try results.trials(ofStudy: $0.id!)) }
            text = format == .json ? try ResultsExport.studiesJSON(studies) : ResultsExport.trialsCSV(studies)
        } else {
            let runs = try results.runs()
            text = switch (format, table) {
            case (.json, _): try ResultsExport.runsJSON(runs)
            case (.csv, .epochs): try results.csv(of: .epoch)
            case (.csv, .stages): try results.csv(of: .stage)
            default: ResultsExport.runsCSV(runs)
            }
        }
        guard let output else { print(text, terminator: ""); return }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw CommandError("--output: cannot write \(output): \(error.localizedDescription)")
        }
    }
}

/// `bpfree studies`: the tuning studies in the store, or one study's trials.
struct StudiesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "studies", abstract: "List the tuning studies, or one study's trials.")

    @OptionGroup var storeOption: StoreOption

    @Argument(help: "Show this study's trials.")
    var study: String?

    func run() throws {
        let results = try storeOption.openExisting()
        if let study {
            guard let stored = try results.study(named: study) else {
                throw ValidationError("no study named '\(study)' in \(storeOption.shown); `bpfree studies` lists them")
            }
            let trials = try results.trials(ofStudy: stored.id!)
            print(StudyListing.trialsTable(trials))
            print(StudyListing.summary(stored, trials: trials))
            return
        }
        for stored in try results.studies() {
            print(StudyListing.summary(stored, trials: try results.trials(ofStudy: stored.id!)))
        }
    }
}
