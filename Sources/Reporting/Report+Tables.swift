import Foundation
import Records
import Results
import Tuning

/// The report's tables per comparison: statistics, deltas, studies, reproduction commands.
extension Report {
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
            guard s.arm.runs.contains(where: { $0.trainingProtocol == .seedPaper }),
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

    /// The `bpfree train` command of each arm's runs, with versions, threads and machine.
    func reproduction(_ c: Comparison) -> [String] {
        c.arms.compactMap { arm in
            guard let run = arm.runs.first else { return nil }
            let seeds = arm.runs.map { String($0.seed) }.joined(separator: " ")
            var command = "for seed in \(seeds); do bpfree train --algorithm \(arm.algorithm) --architecture \(run.architecture)"
            command += " --dataset \(run.dataset) --seed $seed"
            command += " --epochs \(run.stopping.maxEpochs)"
            command += " --patience \(run.stopping.patience)"
            if run.trainingProtocol != .harmonized { command += " --protocol \(run.trainingProtocol.rawValue)" }
            if let limit = run.trainLimit { command += " --train-limit \(limit)" }
            let prefix = arm.descriptor?.family ?? arm.algorithm
            for (key, value) in run.hyperparameters.sorted(by: { $0.key < $1.key }) { command += " --set \(prefix).\(key)=\(value)" }
            command += " --threads \(run.threads); done"
            command += "   # bpfree \(run.environment?.bpfreeVersion ?? "?"), \(run.environment?.cpuModel ?? "?"), \(run.environment?.blas ?? "?")"
            return command
        }
    }
}
