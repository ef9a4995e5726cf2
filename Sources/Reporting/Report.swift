import Foundation
import Records
import Results
import Tuning

/// The report of a results store: `report.html` (inline SVG and CSS), `tables.md` and CSV files.
public struct Report {
    public let data: ReportData
    public let storePath: String

    public init(data: ReportData, storePath: String) {
        self.data = data
        self.storePath = storePath
    }

    /// Per-arm statistics of one comparison.
    struct ArmStatistics {
        var arm: Arm
        var accuracy: Summary         // test accuracy, %
        var epochs: Summary
        var seconds: Summary
        var energy: Summary           // J
        var co2e: Summary             // g
        var peakRSS: Summary          // MiB
        var peakTensor: Summary       // MiB
        var flops: Summary            // TFLOP
        var forwardFlops: Summary     // MFLOP per sample
        var energySources: String
        // Inference with the tested model: batch-1000 throughput, batch-1 latency, cost per prediction.
        var inferenceThroughput: Summary  // predictions/s
        var latencyMedian: Summary        // ms
        var latencyP95: Summary           // ms
        var flopsPerPrediction: Summary   // MFLOP
        var inferenceEnergy: Summary      // J per 10,000 predictions
        var inferencePeakRSS: Summary     // MiB
        var inferenceSources: String
        /// Runs whose batch-1 latencies were timed while other processes used the CPU (or the
        /// hypervisor stole it), even after one re-measurement.
        var contendedLatencies: Int
        /// Why the arm's figures are no finding (near chance, cut off while learning), or nil.
        var notAFinding: String?

        init(_ arm: Arm, in comparison: Comparison) {
            self.arm = arm
            let runs = arm.runs
            accuracy = Summary(runs.compactMap(\.testAccuracy).map { $0 * 100 })
            epochs = Summary(runs.map { Double($0.effectiveEpochs) })
            seconds = Summary(runs.map(\.trainSeconds))
            energy = Summary(runs.compactMap(\.energyJoules))
            co2e = Summary(runs.compactMap(\.co2eGrams))
            peakRSS = Summary(runs.map { Double($0.peakRSSBytes) / 1_048_576 })
            peakTensor = Summary(runs.map { Double($0.peakTensorBytes) / 1_048_576 })
            flops = Summary(runs.map { Double($0.trainFlops) / 1e12 })
            forwardFlops = Summary(runs.compactMap(\.forwardFlopsPerSample).map { $0 / 1e6 })
            energySources = Set(runs.compactMap(\.energySource)).sorted().joined(separator: "+")
            let inference = runs.compactMap(\.inference)
            inferenceThroughput = Summary(inference.map(\.samplesPerSecond))
            latencyMedian = Summary(inference.map(\.latencyMedianMs))
            latencyP95 = Summary(inference.map(\.latencyP95Ms))
            flopsPerPrediction = Summary(inference.map { $0.flopsPerPrediction / 1e6 })
            inferenceEnergy = Summary(inference.compactMap(\.energyJoulesPer10k))
            inferencePeakRSS = Summary(inference.map { Double($0.peakRSSBytes) / 1_048_576 })
            inferenceSources = Set(inference.compactMap(\.energySource)).sorted().joined(separator: "+")
            contendedLatencies = inference.filter { $0.latencyContention?.contended == true }.count
            notAFinding = FairnessAudit.whyNotAFinding(arm, in: comparison)
        }
    }

    /// The HTML page, the Markdown tables and the CSV files, by file name.
    public func files() throws -> [String: String] {
        var html = ""
        var markdown = "# bpfree report\n\nStore: `\(storePath.replacingOccurrences(of: "`", with: "'").replacingOccurrences(of: "\n", with: " "))`; \(Self.roleText(data.role)) compared by dataset and architecture.\n\n"
        var summaryRows: [[String]] = []
        var summaryCSV: [String] = ["comparison,algorithm,n,test_accuracy_mean,test_accuracy_sd,test_accuracy_ci_low,test_accuracy_ci_high,effective_epochs_mean,train_seconds_mean,train_seconds_sd,energy_joules_mean,energy_joules_sd,energy_source,co2e_grams_mean,peak_rss_mib_mean,train_tflop_mean,not_a_finding"]
        var toc = ""
        for (index, c) in data.comparisons.enumerated() {
            let stats = c.arms.map { ArmStatistics($0, in: c) }
            let performance = performanceTable(c, stats), efficiency = efficiencyTable(c, stats)
            summaryRows += deltaRows(c, stats)
            for s in stats {
                summaryCSV.append([c.name, s.arm.algorithm, "\(s.accuracy.n)", "\(s.accuracy.mean)", "\(s.accuracy.sd)",
                                   s.accuracy.ci95.map { "\($0.lowerBound)" } ?? "", s.accuracy.ci95.map { "\($0.upperBound)" } ?? "",
                                   "\(s.epochs.mean)", "\(s.seconds.mean)", "\(s.seconds.sd)", "\(s.energy.mean)", "\(s.energy.sd)",
                                   s.energySources, "\(s.co2e.mean)", "\(s.peakRSS.mean)", "\(s.flops.mean)",
                                   s.notAFinding ?? ""].map(ResultsExport.quoted).joined(separator: ","))
            }
            let findings = FairnessAudit.findings(in: c, allStudies: data.studies)
            let anchor = "comparison-\(index + 1)"
            toc += "<li><a href=\"#\(anchor)\">\(SVG.escape(c.name))</a> (\(c.arms.map(\.algorithm).joined(separator: ", ")))</li>"
            html += "<section class=\"comparison\" id=\"\(anchor)\"><h2>\(SVG.escape(c.name))</h2>"
            let study = studyTable(c, stats), inference = inferenceTable(c, stats)
            html += performance.html + efficiency.html + (inference?.html ?? "") + (study?.html ?? "")
            html += "<h3>Learning curves</h3><div class=\"charts\">" + learningCurves(c).joined() + "</div>"
            html += "<h3>Accuracy against cost</h3><div class=\"charts\">" + paretoCharts(c, stats).joined() + "</div>"
            html += "<h3>Cost per arm</h3><div class=\"charts\">" + barCharts(c, stats).joined() + "</div>"
            let inferenceSVGs = inferenceCharts(c, stats)
            if !inferenceSVGs.isEmpty { html += "<h3>Accuracy against inference cost</h3><div class=\"charts\">" + inferenceSVGs.joined() + "</div>" }
            let traces = traceCharts(c)
            if !traces.isEmpty { html += "<h3>Resource traces (first seed of each arm)</h3><div class=\"charts\">" + traces.joined() + "</div>" }
            html += "<h3>Fairness audit</h3>" + Self.auditHTML(findings) + "</section>"
            markdown += "## \(Table.markdownEscape(c.name))\n\n" + performance.markdown + "\n" + efficiency.markdown + "\n"
                + (inference.map { $0.markdown + "\n" } ?? "") + (study.map { $0.markdown + "\n" } ?? "") + "#### Fairness audit\n\n"
                + (findings.isEmpty ? "No asymmetry of protocol §7 found.\n" : findings.map { "- **\(Table.markdownEscape("\($0.kind)"))**: \(Table.markdownEscape($0.detail))" }.joined(separator: "\n") + "\n") + "\n"
        }
        let summary = Table(title: "Summary: deltas against the BP baseline of the same architecture",
                            header: ["comparison", "algorithm", "Δ test accuracy (pp)", "95% CI (paired bootstrap)", "time ratio",
                                     "energy ratio", "peak RSS ratio", "FLOPs ratio", "reading"], rows: summaryRows)
        let studies = studiesTable()
        let fronts = data.studies.filter { $0.study.objectives.count > 1 }.map { paretoFront($0.study, $0.trials) }
        let scaling = scalingSection()
        if let scaling {
            html += scaling.html
            toc += "<li><a href=\"#scaling\">Scaling</a></li>"
            markdown += scaling.markdown + "\n"
        }
        markdown += "## Summary\n\n" + summary.markdown + "\n## Studies\n\n" + studies.markdown + fronts.map { "\n" + $0.table.markdown }.joined()
        let page = Self.page(title: "bpfree report", storePath: storePath, role: data.role, toc: toc,
                             body: "<section id=\"summary\"><h2>Summary</h2>" + summary.html + "</section>" + html
                                + "<section id=\"studies\"><h2>Tuning studies</h2>" + studies.html
                                + fronts.map { "<div class=\"charts\">" + $0.chart + "</div>" + $0.table.html }.joined() + "</section>")
        let runs = data.comparisons.flatMap { $0.arms.flatMap(\.runs) }
        return ["report.html": page, "tables.md": markdown, "summary.csv": summaryCSV.joined(separator: "\n") + "\n",
                "runs.csv": ResultsExport.runsCSV(runs), "trials.csv": ResultsExport.trialsCSV(data.studies.map { ($0.study, $0.trials) })]
    }

    func studiesTable() -> Table {
        Table(title: "Studies", header: ["study", "algorithm", "sampler (seed)", "pruner", "budget", "epochs/trial", "trials", "best value"],
              rows: data.studies.map { study, trials -> [String] in
                  [study.name, study.algorithm, "\(study.sampler) (\(study.samplerSeed))", study.pruner, "\(study.trialBudget)",
                   "\(study.epochsPerTrial)", trials.stateCounts,
                   study.objectives.count > 1 ? "Pareto front of \(trials.paretoFront(study.objectives).count)"
                                              : trials.best?.value.map { String(format: "%.4f", $0) } ?? "–"]
              })
    }

    /// A multi-objective study's trials, accuracy against its cost: the Pareto front drawn and
    /// listed with its parameters, the dominated trials faded.
    func paretoFront(_ study: StoredStudy, _ trials: [FrozenTrial]) -> (chart: String, table: Table) {
        let complete = trials.filter { $0.state == .complete && $0.values?.count == study.objectives.count }
        let front = trials.paretoFront(study.objectives).sorted { $0.values![1] < $1.values![1] }
        let onFront = Set(front.map(\.number))
        let cost = study.objectives[1].name
        let point = { (t: FrozenTrial) in (x: t.values![1], y: t.values![0] * 100) }
        var line = LineChart.Series(name: "Pareto front (\(front.count))", color: Palette.color(0), points: front.map(point))
        line.withMarkers = true
        let chart = LineChart(title: "Pareto front — \(study.name)", xLabel: cost.replacingOccurrences(of: "_", with: " "),
                              yLabel: "validation accuracy (%)", series: [
            .init(name: "dominated trials (\(complete.count - front.count))", color: "#c8c8c8",
                  points: complete.filter { !onFront.contains($0.number) }.map(point), markersOnly: true),
            line,
        ])
        let table = Table(title: "Pareto front of \(study.name) (\(study.objectives.map { "\($0.name) \($0.direction.rawValue.lowercased())d" }.joined(separator: ", ")))",
                          header: ["trial"] + study.objectives.map(\.name) + ["parameters"],
                          rows: front.map { t in
                              ["\(t.number)"] + t.values!.map { String(format: "%.4g", $0) }
                                  + [t.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.3g", $0.value))" }.joined(separator: " ")]
                          })
        return (chart.svg, table)
    }

    static func auditHTML(_ findings: [FairnessAudit.Finding]) -> String {
        if findings.isEmpty { return "<p class=\"fair\">No asymmetry of protocol §7 found.</p>" }
        return "<ul class=\"audit\">" + findings.map { "<li><strong>\(SVG.escape($0.kind))</strong>: \(SVG.escape($0.detail))</li>" }.joined() + "</ul>"
    }

    static func roleText(_ role: RunRole) -> String {
        switch role {
        case .final: "benchmark final runs"
        case .trial: "tuning trials (no final or single runs in the store)"
        case .train: "single training runs"
        }
    }

    static func page(title: String, storePath: String, role: RunRole, toc: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(SVG.escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1320px; padding: 1rem 1.5rem; color: #222; }
        h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.2rem; }
        table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
        caption { text-align: left; font-weight: 600; padding: .3rem 0; }
        th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        thead th { background: #f3f3f3; }
        .charts { display: flex; flex-wrap: wrap; gap: .8rem; }
        .charts svg { max-width: 100%; height: auto; border: 1px solid #eee; background: #fff; }
        .note code { font-size: .78rem; color: #444; white-space: pre-wrap; }
        .fair { color: #05683f; } .audit li { color: #8a3b00; }
        </style></head><body>
        <h1>\(SVG.escape(title))</h1>
        <p>Store <code>\(SVG.escape(storePath))</code>, \(roleText(role)). Generated \(ISO8601DateFormatter().string(from: Date())). Energy figures carry their source; <em>estimate</em> is a model, not a measurement.</p>
        <nav><ul><li><a href="#summary">Summary</a></li>\(toc)<li><a href="#studies">Tuning studies</a></li></ul></nav>
        \(body)
        </body></html>

        """
    }

    /// Writes every file into `folder`: all of them first into a temporary folder beside them,
    /// then each renamed into place, so a full disk leaves the previous report whole (and no
    /// partial file); the error names the file that could not be written.
    public func write(to folder: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let staging = URL(fileURLWithPath: folder).appendingPathComponent(".bpfree-report-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try manager.createDirectory(at: staging, withIntermediateDirectories: false)
        defer { try? manager.removeItem(at: staging) }
        let files = try files()
        for (name, text) in files {
            do { try Data(text.utf8).write(to: staging.appendingPathComponent(name)) } catch {
                throw WriteError(path: folder + "/" + name, problem: error.localizedDescription)
            }
        }
        for (name, _) in files where rename(staging.appendingPathComponent(name).path, folder + "/" + name) != 0 {
            throw WriteError(path: folder + "/" + name, problem: String(cString: strerror(errno)))
        }
    }

    /// A report file that could not be written.
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String

        public var description: String { "cannot write \(path): \(problem)" }
    }
}
