import Algorithms
import ArgumentParser
import Foundation
import Reporting
import Results

/// `bpfree report`: the store as an HTML page with charts, Markdown tables and CSV files.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write report.html (charts, tables, statistics, fairness audit), tables.md and CSV files from the results store.")

    @OptionGroup var storeOption: StoreOption

    @Option(help: "Folder for report.html, tables.md and the CSV files.")
    var out = "report"

    func run() throws {
        try checkWritableFolder(out, flag: "--out")
        let data = try ReportData(store: try storeOption.openExisting()) { try? AlgorithmRegistry.descriptor(for: $0) }
        guard !data.comparisons.isEmpty || !data.scaling.isEmpty else { throw ValidationError("--store: \(storeOption.shown) holds no runs to report") }
        let report = Report(data: data, storePath: storeOption.shown)
        do {
            try report.write(to: out)
        } catch let error as Report.WriteError {
            throw CommandError("--out: \(error)")
        } catch {
            throw CommandError("--out: cannot write into \(out): \(error.localizedDescription)")
        }
        print("\(out)/report.html: \(data.comparisons.count) comparisons, \(data.comparisons.flatMap(\.arms).count) arms, "
              + "\(data.studies.count) studies" + (data.scaling.isEmpty ? "" : ", \(data.scaling.count) scaling runs")
              + "; also tables.md, summary.csv, runs.csv, trials.csv")
    }
}
