import Foundation
import Records
import Results
import Tuning

/// The report's charts: learning curves, trade-offs, bars, traces, inference and scaling.
extension Report {
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

    /// CPU utilisation, clock, resident memory and power, and (with NVML) GPU utilisation, SM clock
    /// and memory over time, for the first seed of each arm; a column no run traced draws no chart.
    func traceCharts(_ c: Comparison) -> [String] {
        let columns: [(TraceColumn, String, Double)] = [(.cpuUtilizationPercent, "CPU utilisation (%)", 1), (.cpuClockMHz, "CPU clock (MHz)", 1),
                                                        (.residentBytes, "resident memory (MiB)", 1 / 1_048_576), (.watts, "power (W)", 1),
                                                        (.gpuUtilizationPercent, "GPU utilisation (%)", 1), (.gpuSMClockMHz, "GPU SM clock (MHz)", 1),
                                                        (.gpuMemoryBytes, "GPU memory in use, device-wide (MiB)", 1 / 1_048_576)]
        let pair = c.arms.compactMap { arm in arm.runs.first.map { (arm.algorithm, $0) } }
        let sources = Set(pair.compactMap(\.1.energySource)).sorted().joined(separator: "+")
        return columns.compactMap { column, baseLabel, scale in
            // Power comes from the energy meter: its source goes on the axis (an estimate is not a measurement).
            let label = column == .watts ? "power (W, \(sources.isEmpty ? "no source" : sources))" : baseLabel
            guard let index = TraceColumn.allCases.firstIndex(of: column) else { return nil }
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
}
