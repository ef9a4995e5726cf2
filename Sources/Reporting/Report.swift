import Foundation
import Records
import Results
import Tuning

/// A table rendered both as HTML and as Markdown.
public struct Table {
    public var title: String
    public var header: [String]
    public var rows: [[String]]
    /// A line under the table (e.g. the reproduction commands).
    public var notes: [String] = []

    var html: String {
        var out = "<table><caption>\(SVG.escape(title))</caption><thead><tr>"
        out += header.map { "<th>\(SVG.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows { out += "<tr>" + row.map { "<td>\(SVG.escape($0))</td>" }.joined() + "</tr>" }
        out += "</tbody></table>"
        for note in notes { out += "<p class=\"note\"><code>\(SVG.escape(note))</code></p>" }
        return out
    }

    var markdown: String {
        let cell = { (text: String) in Self.markdownEscape(text).replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["### \(Self.markdownEscape(title))", "", "| " + header.map(cell).joined(separator: " | ") + " |",
                     "|" + String(repeating: "---|", count: header.count)]
        lines += rows.map { "| " + $0.map(cell).joined(separator: " | ") + " |" }
        // Notes are indented code blocks (shown literally); a line break must stay inside the block.
        if !notes.isEmpty { lines += [""] + notes.map { "    " + $0.replacingOccurrences(of: "\n", with: "\n    ") } }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text as Markdown shows it literally: HTML's special characters as entities, line breaks as `<br>`.
    static func markdownEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\r\n", with: "<br>")
            .replacingOccurrences(of: "\n", with: "<br>")
    }
}

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

    static func meanSD(_ s: Summary, _ digits: Int = 2) -> String {
        guard s.n > 0, s.mean.isFinite else { return "–" }
        return String(format: "%.\(digits)f ± %.\(digits)f", s.mean, s.sd)
    }

    static func interval(_ ci: ClosedRange<Double>?, _ digits: Int = 2) -> String {
        guard let ci else { return "–" }
        return String(format: "[%.\(digits)f, %.\(digits)f]", ci.lowerBound, ci.upperBound)
    }

    /// Fewest paired seeds whose percentile bootstrap is shown as a CI: below it the resampled
    /// means are a handful of values and the "interval" is the deltas themselves (2 pairs give
    /// their min and max), far narrower than the uncertainty.
    static let minimumBootstrapPairs = 5

    /// The paired-bootstrap 95 % CI of the deltas, or why there is none.
    static func pairedInterval(_ deltas: [Double]?) -> String {
        guard let deltas else { return "unpaired" }
        guard deltas.count >= minimumBootstrapPairs else {
            return "n=\(deltas.count) pairs: too few for a CI (needs ≥ \(minimumBootstrapPairs))"
        }
        return interval(Statistics.bootstrapCI95(deltas))
    }

    /// Paired (by seed) differences arm − baseline of a per-run value, when seeds are shared.
    static func pairedDeltas(_ arm: Arm, _ baseline: Arm, _ value: (StoredRun) -> Double?) -> [Double]? {
        let base = Dictionary(baseline.runs.compactMap { run in value(run).map { (run.seed, $0) } }, uniquingKeysWith: { a, _ in a })
        let pairs = arm.runs.compactMap { run -> Double? in
            guard let v = value(run), let b = base[run.seed] else { return nil }
            return v - b
        }
        return pairs.count == arm.runs.count && pairs.count == baseline.runs.count && !pairs.isEmpty ? pairs : nil
    }

    func performanceTable(_ c: Comparison, _ stats: [ArmStatistics]) -> Table {
        Table(title: "Performance — \(c.name)", header: ["algorithm", "n", "test accuracy % (mean ± SD)", "95% CI", "effective epochs"],
              rows: stats.map { s in [s.arm.algorithm, "\(s.accuracy.n)", Self.meanSD(s.accuracy), Self.interval(s.accuracy.ci95),
                                      Self.meanSD(s.epochs, 1)] })
    }

    func efficiencyTable(_ c: Comparison, _ stats: [ArmStatistics]) -> Table {
        Table(title: "Efficiency — \(c.name)",
              header: ["algorithm", "n", "time s", "energy J", "energy source", "CO2e g", "peak RSS MiB", "peak tensors MiB",
                       "train TFLOP", "forward MFLOP/sample"],
              rows: stats.map { s in [s.arm.algorithm, "\(s.seconds.n)", Self.meanSD(s.seconds, 1), Self.meanSD(s.energy, 0),
                                      s.energySources.isEmpty ? "–" : s.energySources, Self.meanSD(s.co2e, 3), Self.meanSD(s.peakRSS, 0),
                                      Self.meanSD(s.peakTensor, 0), Self.meanSD(s.flops, 3), Self.meanSD(s.forwardFlops, 2)] },
              notes: reproduction(c))
    }

    /// What a prediction costs with each arm's tested model, or nil when no run measured it.
    func inferenceTable(_ c: Comparison, _ stats: [ArmStatistics]) -> Table? {
        guard stats.contains(where: { $0.inferenceThroughput.n > 0 }) else { return nil }
        return Table(title: "Inference — \(c.name)",
                     header: ["algorithm", "n", "predictions/s (batch 1000)", "latency ms, batch 1 (median)", "latency ms (p95)",
                              "MFLOP/prediction", "J per 10,000 predictions", "energy source", "peak RSS MiB"],
                     rows: stats.map { s in
                         let load = s.contendedLatencies > 0 ? " (\(s.contendedLatencies) of \(s.latencyMedian.n) under load)" : ""
                         return [s.arm.algorithm, "\(s.inferenceThroughput.n)", Self.meanSD(s.inferenceThroughput, 0),
                                 Self.meanSD(s.latencyMedian, 3) + load, Self.meanSD(s.latencyP95, 3) + load, Self.meanSD(s.flopsPerPrediction, 3),
                                 Self.meanSD(s.inferenceEnergy, 2), s.inferenceSources.isEmpty ? "–" : s.inferenceSources,
                                 Self.meanSD(s.inferencePeakRSS, 0)]
                     },
                     notes: stats.contains { $0.contendedLatencies > 0 }
                         ? ["under load: other processes used more than a tenth of a CPU (or the hypervisor stole more than 5 % of the time) "
                            + "while the latencies were timed, also when timed again; each run record's inference.latency_contention says how much"] : [])
    }

    /// Test accuracy against the energy of 10,000 predictions and against batch-1 latency.
    func inferenceCharts(_ c: Comparison, _ stats: [ArmStatistics]) -> [String] {
        let measured = stats.filter { $0.inferenceThroughput.n > 0 }
        guard !measured.isEmpty else { return [] }
        let source = Set(measured.map(\.inferenceSources)).sorted().joined(separator: ", ")
        return [Self.accuracyChart("Accuracy vs inference energy — \(c.name)", "J per 10,000 predictions (\(source.isEmpty ? "no source" : source))",
                                   measured, \.inferenceEnergy),
                Self.accuracyChart("Accuracy vs inference latency — \(c.name)", "latency at batch 1, median (ms)", measured, \.latencyMedian)]
    }

    /// Each arm's mean test accuracy against one of its costs, with SD error bars both ways,
    /// cut at zero (neither a cost nor an accuracy is negative).
    static func accuracyChart(_ title: String, _ xLabel: String, _ stats: [ArmStatistics], _ x: (ArmStatistics) -> Summary) -> String {
        var chart = LineChart(title: title, xLabel: xLabel, yLabel: "test accuracy (%)", series: stats.enumerated().map { i, s in
            .init(name: s.arm.algorithm, color: Palette.color(i), points: [(x(s).mean, s.accuracy.mean)],
                  xErrors: [x(s).sd], yErrors: [s.accuracy.sd], markersOnly: true)
        })
        chart.errorFloor = 0
        return chart.svg
    }

    /// Δ accuracy (pp) with a bootstrap CI when the seeds are paired, time and energy ratios,
    /// and whether the delta is a result (neither arm near chance nor cut off while learning).
    func deltaRows(_ c: Comparison, _ stats: [ArmStatistics]) -> [[String]] {
        guard let baseline = stats.first(where: { $0.arm.descriptor?.role == .baseline }) else { return [] }
        return stats.filter { $0.arm.descriptor?.role != .baseline }.map { s in
            let paired = Self.pairedDeltas(s.arm, baseline.arm) { $0.testAccuracy.map { $0 * 100 } }
            let delta = paired.map { Summary($0).mean } ?? (s.accuracy.mean - baseline.accuracy.mean)
            let ratio = { (a: Summary, b: Summary) in a.n > 0 && b.n > 0 && b.mean > 0 ? String(format: "%.2f×", a.mean / b.mean) : "–" }
            let caveats = [s, baseline].compactMap { arm in arm.notAFinding.map { "\(arm.arm.algorithm): \($0)" } }
            return [c.name, s.arm.algorithm, String(format: "%+.2f", delta), Self.pairedInterval(paired),
                    ratio(s.seconds, baseline.seconds), ratio(s.energy, baseline.energy), ratio(s.peakRSS, baseline.peakRSS),
                    ratio(s.flops, baseline.flops), caveats.isEmpty ? "result" : "not a finding — " + caveats.joined(separator: "; ")]
        }
    }

    /// The study's published figures beside bpfree's seed-paper runs of the same configuration,
    /// or nil when the comparison has no seed-paper run the study has a row for.
    func studyTable(_ c: Comparison, _ stats: [ArmStatistics]) -> Table? {
        let rows = stats.compactMap { s -> [String]? in
            guard s.arm.runs.contains(where: { $0.trainingProtocol == "seed-paper" }),
                  let study = StudyReference.row(dataset: c.dataset, architecture: c.architecture, algorithm: s.arm.algorithm) else { return nil }
            let spread = (study.accuracy.mean - 2 * study.accuracy.sd)...(study.accuracy.mean + 2 * study.accuracy.sd)
            let hardware = Set(s.arm.runs.compactMap { $0.environment.map { "\($0.cpuModel), \($0.cores) cores" } }).sorted().joined(separator: "; ")
            let wattHours = Summary(s.arm.runs.compactMap(\.energyJoules).map { $0 / 3600 })
            return [s.arm.algorithm, String(format: "%.2f ± %.2f", study.accuracy.mean, study.accuracy.sd), Self.meanSD(s.accuracy) + " (n=\(s.accuracy.n))",
                    s.accuracy.n > 0 ? String(format: "%+.2f", s.accuracy.mean - study.accuracy.mean) : "–",
                    s.accuracy.n > 0 ? (spread.contains(s.accuracy.mean) ? "yes" : "no") : "–",
                    String(format: "%.2f", study.effectiveEpochs), Self.meanSD(s.epochs, 1),
                    String(format: "%.1f", study.seconds), Self.meanSD(s.seconds, 1) + (hardware.isEmpty ? "" : " (\(hardware))"),
                    String(format: "%.2f", study.energyWh), Self.meanSD(wattHours, 3) + (s.energySources.isEmpty ? "" : " (\(s.energySources))"),
                    study.note ?? ""]
        }
        guard !rows.isEmpty else { return nil }
        return Table(title: "The study beside bpfree (seed-paper) — \(c.name)",
                     header: ["algorithm", "study test acc %", "bpfree test acc %", "Δ pp", "within study mean ± 2 SD",
                              "study eff. epochs", "bpfree eff. epochs", "study time s (\(StudyReference.hardware))", "bpfree time s",
                              "study energy Wh (\(StudyReference.hardware))", "bpfree energy Wh", "what the study's logs show"],
                     rows: rows)
    }

    /// A scaling suite's section: the fitted exponent per algorithm, every point, and log-log
    /// curves of time against work with accuracy against training-set size and width.
    func scalingSection() -> (html: String, markdown: String)? {
        guard !data.scaling.isEmpty else { return nil }
        let fits = Scaling.fits(data.scaling)
        let exponents = Table(title: "Scaling — fitted exponents (training time ∝ work^k, work = counted FLOPs)",
                              header: ["algorithm", "runs", "k", "R²"],
                              rows: fits.map { [$0.algorithm, "\($0.points)", String(format: "%.3f", $0.exponent), String(format: "%.3f", $0.rSquared)] })
        // One point per algorithm and configuration, over its seeds.
        let groups = Dictionary(grouping: data.scaling) { "\($0.algorithm)|\($0.comparison ?? "")" }
        struct Point { var algorithm: String, architecture: String, samples: Int?, runs: [StoredRun] }
        let points = groups.values.map { runs in Point(algorithm: runs[0].algorithm, architecture: runs[0].architecture, samples: runs[0].trainLimit, runs: runs) }
            .sorted { ($0.algorithm, $0.architecture, $0.samples ?? .max) < ($1.algorithm, $1.architecture, $1.samples ?? .max) }
        let table = Table(title: "Scaling — points", header: ["algorithm", "architecture", "training samples", "n", "test accuracy %", "time s",
                                                             "energy J", "energy source", "train TFLOP", "peak RSS MiB"],
                          rows: points.map { p in
                              [p.algorithm, p.architecture, p.samples.map(String.init) ?? "all", "\(p.runs.count)",
                               Self.meanSD(Summary(p.runs.compactMap(\.testAccuracy).map { $0 * 100 })), Self.meanSD(Summary(p.runs.map(\.trainSeconds)), 1),
                               Self.meanSD(Summary(p.runs.compactMap(\.energyJoules)), 0),
                               Set(p.runs.compactMap(\.energySource)).sorted().joined(separator: "+"),
                               Self.meanSD(Summary(p.runs.map { Double($0.trainFlops) / 1e12 }), 3),
                               Self.meanSD(Summary(p.runs.map { Double($0.peakRSSBytes) / 1_048_576 }), 0)]
                          })
        let algorithms = Set(points.map(\.algorithm)).sorted()
        func series(_ x: (StoredRun) -> Double?, _ y: (StoredRun) -> Double?, _ include: (Point) -> Bool) -> [LineChart.Series] {
            algorithms.enumerated().map { i, algorithm in
                let xy = points.filter { $0.algorithm == algorithm && include($0) }.compactMap { p -> (x: Double, y: Double)? in
                    let xs = Summary(p.runs.compactMap(x)), ys = Summary(p.runs.compactMap(y))
                    return xs.n > 0 && ys.n > 0 ? (xs.mean, ys.mean) : nil
                }.sorted { $0.x < $1.x }
                return .init(name: algorithm, color: Palette.color(i), points: xy)
            }
        }
        // The size sweep is the architecture with the most points; the width sweep the smallest training set.
        let sizeArchitecture = Dictionary(grouping: points, by: \.architecture).max { $0.value.count < $1.value.count }?.key ?? ""
        let widthSamples = points.compactMap(\.samples).min()
        let charts = [
            LineChart(title: "Scaling — training time against work (log-log)", xLabel: "log10 train FLOPs", yLabel: "log10 training time (s)",
                      series: series({ log10(Double(max($0.trainFlops, 1))) }, { log10(max($0.trainSeconds, 1e-9)) }, { _ in true })).svg,
            LineChart(title: "Scaling — accuracy against training samples (\(sizeArchitecture))", xLabel: "log10 training samples", yLabel: "test accuracy (%)",
                      series: series({ $0.trainLimit.map { log10(Double($0)) } }, { $0.testAccuracy.map { $0 * 100 } }, { $0.architecture == sizeArchitecture })).svg,
            LineChart(title: "Scaling — accuracy against the work per sample (widths)", xLabel: "log10 train FLOPs per sample", yLabel: "test accuracy (%)",
                      series: series({ $0.trainSamples > 0 ? log10(Double($0.trainFlops) / Double($0.trainSamples)) : nil },
                                     { $0.testAccuracy.map { $0 * 100 } }, { $0.samples == widthSamples })).svg,
        ]
        let lines = fits.map(Scaling.line)
        let html = "<section id=\"scaling\"><h2>Scaling</h2>" + lines.map { "<p class=\"note\"><code>\(SVG.escape($0))</code></p>" }.joined()
            + exponents.html + table.html + "<div class=\"charts\">" + charts.joined() + "</div></section>"
        let markdown = "## Scaling\n\n" + lines.map { "    " + $0 }.joined(separator: "\n") + "\n\n" + exponents.markdown + "\n" + table.markdown + "\n"
        return (html, markdown)
    }

    /// The `bpfree train` command of each arm's runs, with versions, threads and machine.
    func reproduction(_ c: Comparison) -> [String] {
        c.arms.compactMap { arm in
            guard let run = arm.runs.first else { return nil }
            let seeds = arm.runs.map { String($0.seed) }.joined(separator: " ")
            var command = "for seed in \(seeds); do bpfree train --algorithm \(arm.algorithm) --architecture \(run.architecture)"
            command += " --dataset \(run.dataset) --seed $seed"
            command += " --epochs \(run.stopping.maxEpochs)"
            command += " --patience \(run.stopping.patience)"
            if run.trainingProtocol != "harmonized" { command += " --protocol \(run.trainingProtocol)" }
            if let limit = run.trainLimit { command += " --train-limit \(limit)" }
            let prefix = arm.descriptor?.family ?? arm.algorithm
            for (key, value) in run.hyperparameters.sorted(by: { $0.key < $1.key }) { command += " --set \(prefix).\(key)=\(value)" }
            command += " --threads \(run.threads); done"
            command += "   # bpfree \(run.environment?.bpfreeVersion ?? "?"), \(run.environment?.cpuModel ?? "?"), \(run.environment?.blas ?? "?")"
            return command
        }
    }

    // MARK: Charts

    func learningCurves(_ c: Comparison) -> [String] {
        var series: (loss: [LineChart.Series], accuracy: [LineChart.Series]) = ([], [])
        var markers: [(x: Double, label: String)] = []
        for (armIndex, arm) in c.arms.enumerated() {
            for (runIndex, run) in arm.runs.enumerated() {
                let name = "\(arm.algorithm) seed \(run.seed)"
                let epochs = run.epochs
                series.loss.append(.init(name: name, color: Palette.color(armIndex),
                                         points: epochs.enumerated().map { (Double($0.offset + 1), $0.element.validationLoss) }, dashed: runIndex > 0))
                series.accuracy.append(.init(name: name, color: Palette.color(armIndex),
                                             points: epochs.enumerated().map { (Double($0.offset + 1), $0.element.validationAccuracy * 100) },
                                             dashed: runIndex > 0))
                if markers.isEmpty, run.stages.count > 1 {
                    var total = 0
                    for stage in run.stages.dropLast() {
                        total += stage.epochs
                        markers.append((Double(total) + 0.5, "\(arm.algorithm): end of \(stage.name)"))
                    }
                }
            }
        }
        var loss = LineChart(title: "Validation loss — \(c.name)", xLabel: "epoch (summed over stages)", yLabel: "validation loss (per sample)", series: series.loss)
        var accuracy = LineChart(title: "Validation accuracy — \(c.name)", xLabel: "epoch (summed over stages)", yLabel: "validation accuracy (%)", series: series.accuracy)
        loss.markers = markers
        accuracy.markers = markers
        return [loss.svg, accuracy.svg]
    }

    func paretoCharts(_ c: Comparison, _ stats: [ArmStatistics]) -> [String] {
        let source = Set(stats.map(\.energySources)).sorted().joined(separator: ", ")
        return [Self.accuracyChart("Accuracy vs energy — \(c.name)", "energy (J, \(source.isEmpty ? "no source" : source))", stats, \.energy),
                Self.accuracyChart("Accuracy vs time — \(c.name)", "training time (s)", stats, \.seconds)]
    }

    func barCharts(_ c: Comparison, _ stats: [ArmStatistics]) -> [String] {
        func chart(_ title: String, _ label: String, _ x: (ArmStatistics) -> Summary) -> String {
            BarChart(title: "\(title) — \(c.name)", yLabel: label, bars: stats.enumerated().map { i, s in
                (s.arm.algorithm, x(s).mean, x(s).sd, Palette.color(i))
            }).svg
        }
        return [chart("Training time", "seconds", \.seconds), chart("Energy", "joules", \.energy),
                chart("Peak memory", "peak RSS (MiB)", \.peakRSS), chart("Training FLOPs", "TFLOP", \.flops)]
    }

    /// CPU utilisation, clock, resident memory and power over time for the first seed of each arm.
    func traceCharts(_ c: Comparison) -> [String] {
        let columns: [(String, String, Double)] = [("cpu_utilization_percent", "CPU utilisation (%)", 1), ("cpu_clock_mhz", "CPU clock (MHz)", 1),
                                                   ("rss_bytes", "resident memory (MiB)", 1 / 1_048_576), ("power_watts", "power (W)", 1),
                                                   ("gpu_utilization_percent", "GPU utilisation (%)", 1)]
        let pair = c.arms.compactMap { arm in arm.runs.first.map { (arm.algorithm, $0) } }
        let sources = Set(pair.compactMap(\.1.energySource)).sorted().joined(separator: "+")
        return columns.compactMap { column, baseLabel, scale in
            // Power comes from the energy meter: its source goes on the axis (an estimate is not a measurement).
            let label = column == "power_watts" ? "power (W, \(sources.isEmpty ? "no source" : sources))" : baseLabel
            guard let index = ResultsStore.traceColumns.firstIndex(of: column) else { return nil }
            let series = pair.enumerated().compactMap { i, entry -> LineChart.Series? in
                let points = entry.1.traceRows.compactMap { row -> (x: Double, y: Double)? in
                    guard let t = row[0], let v = row[index] else { return nil }
                    return (t, v * scale)
                }
                return points.isEmpty ? nil : .init(name: "\(entry.0) seed \(entry.1.seed)", color: Palette.color(i), points: points)
            }
            return series.isEmpty ? nil : LineChart(title: "\(label) — \(c.name)", xLabel: "time in the window (s)", yLabel: label, series: series).svg
        }
    }

    // MARK: Output

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
        let scaling = scalingSection()
        if let scaling {
            html += scaling.html
            toc += "<li><a href=\"#scaling\">Scaling</a></li>"
            markdown += scaling.markdown + "\n"
        }
        markdown += "## Summary\n\n" + summary.markdown + "\n## Studies\n\n" + studies.markdown
        let page = Self.page(title: "bpfree report", storePath: storePath, role: data.role, toc: toc,
                             body: "<section id=\"summary\"><h2>Summary</h2>" + summary.html + "</section>" + html
                                + "<section id=\"studies\"><h2>Tuning studies</h2>" + studies.html + "</section>")
        let runs = data.comparisons.flatMap { $0.arms.flatMap(\.runs) }
        return ["report.html": page, "tables.md": markdown, "summary.csv": summaryCSV.joined(separator: "\n") + "\n",
                "runs.csv": ResultsExport.runsCSV(runs), "trials.csv": ResultsExport.trialsCSV(data.studies.map { ($0.study, $0.trials) })]
    }

    func studiesTable() -> Table {
        Table(title: "Studies", header: ["study", "algorithm", "sampler (seed)", "pruner", "budget", "epochs/trial", "trials", "best value"],
              rows: data.studies.map { study, trials -> [String] in
                  [study.name, study.algorithm, "\(study.sampler) (\(study.samplerSeed))", study.pruner, "\(study.trialBudget)",
                   "\(study.epochsPerTrial)", trials.stateCounts, trials.best?.value.map { String(format: "%.4f", $0) } ?? "–"]
              })
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
