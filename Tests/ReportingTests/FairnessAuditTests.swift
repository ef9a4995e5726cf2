import Foundation
import Records
import Results
import Testing
import TestSupport
import Tuning
@testable import Reporting

/// The audit on stores built to contain each asymmetry of protocol §7, and one with none.
@Suite struct FairnessAuditTests {
    struct RunSpec {
        var algorithm: String
        var seed: Int64
        var patience = 20
        var maxEpochs = 100
        var energySource = "rapl"
        var traceHz = 5.0
        var threads = 2
        var cpu = "AMD EPYC"
        var study: String?
    }

    static func run(_ s: RunSpec) -> StoredRun {
        var record = RunRecord.example(algorithm: s.algorithm, seed: UInt64(s.seed), accuracy: 0.88 + Double(s.seed) / 1000)
        record.stopping = .init(monitor: "val_loss", patience: s.patience, minDelta: 0, maxEpochs: s.maxEpochs)
        record.traceHz = s.traceHz
        record.environment?.cpuModel = s.cpu
        record.energyJoules = 500
        record.energySource = s.energySource
        record.threads = s.threads
        record.role = .final
        record.study = s.study
        record.comparison = "fashion-mnist/mlp-2x1000"
        return StoredRun(record)
    }

    static func study(_ name: String, algorithm: String, seed: Int64, pruner: String = "none", budget: Int = 20, epochs: Int = 100) -> StoredStudy {
        StoredStudy(name: name, algorithm: algorithm, dataset: "fashion-mnist", architecture: "mlp-2x1000", sampler: "tpe",
                    samplerSeed: seed, pruner: pruner, trialBudget: budget, epochsPerTrial: epochs, settingsJSON: "{}",
                    createdAt: "2026-11-29T00:00:00Z")
    }

    /// A store with an MF and a BP arm (seeds 2 and 3, studies "mf" and "bp"), changed by `modify`.
    static func findings(runs modify: @Sendable (inout [RunSpec]) -> Void = { _ in },
                         studies: [StoredStudy] = [study("mf", algorithm: "mf", seed: 11), study("bp", algorithm: "bp", seed: 12)],
                         bestParameters: [String: [String: Double]] = ["mf": ["learning_rate": 1e-3], "bp": ["learning_rate": 2e-4]]) throws -> [FairnessAudit.Finding] {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/audit.sqlite")
        var specs = [RunSpec(algorithm: "mf", seed: 2, study: "mf"), RunSpec(algorithm: "mf", seed: 3, study: "mf"),
                     RunSpec(algorithm: "bp", seed: 2, study: "bp"), RunSpec(algorithm: "bp", seed: 3, study: "bp")]
        modify(&specs)
        for spec in specs { try store.insert(run(spec)) }
        for s in studies {
            let id = try store.openStudy(s).id!
            guard case .trial(let trial) = try store.claimTrial(studyID: id, workerID: "w", staleAfter: 60, decide: { _, _ in
                (bestParameters[s.algorithm] ?? [:]).mapValues { ($0, .float(low: 1e-5, high: 1e-2, log: true)) }
            }) else { continue }
            try store.finishTrial(trialID: trial.id, workerID: "w", state: .complete, value: 0.9, failureReason: nil, run: nil)
        }
        let data = try ReportData(store: store)
        #expect(data.comparisons.count == 1 && data.comparisons[0].arms.map(\.algorithm) == ["bp", "mf"])
        return FairnessAudit.findings(in: data.comparisons[0], allStudies: data.studies)
    }

    @Test func aFairComparisonHasNoFinding() throws {
        #expect(try Self.findings().isEmpty)
    }

    /// (expected kind, change) for every run-level asymmetry.
    static func change(_ name: String) -> (kind: String, modify: @Sendable (inout [RunSpec]) -> Void) {
        switch name {
        case "patience": ("stopping rule", { $0[0].patience = 10; $0[1].patience = 10 })
        case "cap": ("stopping rule", { $0[2].maxEpochs = 50 })
        case "energy": ("energy source", { $0[0].energySource = "estimate" })
        case "trace": ("measurement window", { $0[3].traceHz = 1 })
        case "threads": ("threads", { $0[0].threads = 1; $0[1].threads = 1 })
        case "cpu": ("hardware", { $0[2].cpu = "Intel Xeon"; $0[3].cpu = "Intel Xeon" })
        case "repeated": ("repeated seeds", { $0[1].seed = 2 })
        default: ("unpaired seeds", { $0[2].seed = 4; $0[3].seed = 5 })
        }
    }

    @Test(arguments: ["patience", "cap", "energy", "trace", "threads", "cpu", "repeated", "unpaired"])
    func eachRunAsymmetryIsFound(name: String) throws {
        let (kind, modify) = Self.change(name)
        let findings = try Self.findings(runs: modify)
        #expect(findings.contains { $0.kind == kind }, "\(findings)")
    }

    @Test func studyAsymmetriesAreFound() throws {
        let pruned = try Self.findings(studies: [Self.study("mf", algorithm: "mf", seed: 11, pruner: "median"), Self.study("bp", algorithm: "bp", seed: 12)])
        #expect(pruned.map(\.kind) == ["pruning"])
        let budget = try Self.findings(studies: [Self.study("mf", algorithm: "mf", seed: 11, budget: 40), Self.study("bp", algorithm: "bp", seed: 12)])
        #expect(budget.map(\.kind) == ["trial budget"])
        let epochs = try Self.findings(studies: [Self.study("mf", algorithm: "mf", seed: 11, epochs: 50), Self.study("bp", algorithm: "bp", seed: 12)])
        #expect(epochs.map(\.kind) == ["epoch budget"])
        let seed = try Self.findings(studies: [Self.study("mf", algorithm: "mf", seed: 11), Self.study("bp", algorithm: "bp", seed: 11)])
        #expect(seed.map(\.kind) == ["sampler seed"])
        let identical = try Self.findings(bestParameters: ["mf": ["learning_rate": 1e-3], "bp": ["learning_rate": 1e-3]])
        #expect(identical.map(\.kind) == ["identical hyperparameters"])
        let untuned = try Self.findings(studies: [Self.study("mf", algorithm: "mf", seed: 11)])
        #expect(untuned.map(\.kind) == ["tuning"])
    }
}

extension FairnessAuditTests {
    @Test func aComparisonWithoutBPAndTrialOnlyStoresAreReadAsSuch() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/trials.sqlite")
        for seed in [1, 1] as [Int64] {
            var run = Self.run(RunSpec(algorithm: "mf", seed: seed, study: "mf"))
            run.record.role = .trial
            try store.insert(run)
        }
        let data = try ReportData(store: store)
        #expect(data.role == .trial)
        // Trials share their study's seed by design: no seed finding; the missing baseline is one.
        #expect(FairnessAudit.findings(in: data.comparisons[0], allStudies: data.studies).map(\.kind) == ["baseline"])
    }
}

extension FairnessAuditTests {
    /// An arm near chance, or cut off by its epoch cap while still learning, is flagged in the
    /// audit and its delta in the summary reads as no finding (issue: no non-finding as a finding).
    @Test func armsNearChanceOrCutOffWhileLearningAreNotFindings() throws {
        func run(_ algorithm: String, seed: UInt64, accuracy: Double, curve: [Double], cap: Int = 100) -> StoredRun {
            var record = RunRecord.example(algorithm: algorithm, seed: seed, accuracy: accuracy)
            record.classCount = 10
            record.role = .final
            record.stopping = .init(monitor: "val_loss", patience: 20, minDelta: 0, maxEpochs: cap)
            record.epochs = curve.enumerated().map { EpochRecord(stage: "model", epoch: $0.offset + 1, trainLoss: 1, validationLoss: 1,
                                                                 validationAccuracy: $0.element, seconds: 1, validationSeconds: 0.1) }
            record.stages = [StageRecord(name: "model", epochs: curve.count, bestEpoch: curve.count, bestValidationLoss: 1)]
            return StoredRun(record)
        }
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/chance.sqlite")
        for seed: UInt64 in [2, 3] {
            try store.insert(run("bp", seed: seed, accuracy: 0.85, curve: [0.80, 0.84, 0.845], cap: 3))     // converged enough
            try store.insert(run("ff", seed: seed, accuracy: 0.12, curve: [0.10, 0.11, 0.12], cap: 3))      // near chance
            try store.insert(run("mf", seed: seed, accuracy: 0.70, curve: [0.50, 0.60, 0.70], cap: 3))      // cut off learning
            try store.insert(run("dfa", seed: seed, accuracy: 0.70, curve: [0.50, 0.60, 0.70, 0.70], cap: 100)) // stopped by its rule
        }
        let data = try ReportData(store: store)
        let comparison = data.comparisons[0]
        let flagged = FairnessAudit.findings(in: comparison, allStudies: []).filter { $0.kind == "not a finding" }.map(\.detail)
        #expect(flagged.count == 2)
        #expect(flagged.contains { $0.hasPrefix("ff: test accuracy 12.0% is near chance (10.0% for 10 classes)") })
        #expect(flagged.contains { $0.hasPrefix("mf: 2 of 2 runs stopped at the epoch cap while validation accuracy still rose") })
        let files = try Report(data: data, storePath: "chance.sqlite").files()
        let summary = files["tables.md"]!.components(separatedBy: "### Summary: deltas")[1]
        #expect(summary.contains("| ff | -73.00 |") && summary.contains("not a finding — ff: test accuracy 12.0% is near chance"))
        #expect(summary.contains("| dfa | -15.00 |") && summary.split(separator: "\n").contains { $0.contains("| dfa |") && $0.hasSuffix("| result |") })
        #expect(files["summary.csv"]!.split(separator: "\n").contains { $0.hasPrefix("fashion-mnist/mlp-2x1000,ff,") && $0.contains("near chance") })
        // Reproduction lines once per comparison, under its efficiency table.
        #expect(files["tables.md"]!.components(separatedBy: "for seed in 2 3; do bpfree train --algorithm ff").count == 2)
    }
}

/// Runs that differ in training-set size, protocol or (outside a benchmark) epoch cap are
/// different comparisons, never pooled into one arm.
@Suite struct ComparisonGroupingTests {
    static func trainRun(seed: UInt64, accuracy: Double, trainLimit: Int? = nil, maxEpochs: Int = 100, trainingProtocol: TrainingProtocol = .harmonized) -> StoredRun {
        var record = RunRecord.example(algorithm: "bp", seed: seed, accuracy: accuracy)
        record.role = .train
        record.comparison = nil
        record.trainLimit = trainLimit
        record.trainingProtocol = trainingProtocol
        record.stopping = .init(monitor: "val_loss", patience: 20, minDelta: 0, maxEpochs: maxEpochs)
        return StoredRun(record)
    }

    @Test func aSmallerTrainingSetIsItsOwnComparison() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/grouping.sqlite")
        for seed in 1...3 { try store.insert(Self.trainRun(seed: UInt64(seed), accuracy: 0.89)) }
        try store.insert(Self.trainRun(seed: 4, accuracy: 0.78, trainLimit: 6000))
        try store.insert(Self.trainRun(seed: 5, accuracy: 0.80, maxEpochs: 3, trainingProtocol: .seedPaper))
        let names = try ReportData(store: store).comparisons.map(\.name)
        let base = "\(RunRecord.example(algorithm: "bp", seed: 1).dataset)/\(RunRecord.example(algorithm: "bp", seed: 1).architecture)"
        #expect(names == ["\(base) (6000 training samples, protocol harmonized, cap 100 epochs)",
                          "\(base) (all training samples, protocol harmonized, cap 100 epochs)",
                          "\(base) (all training samples, protocol seed-paper, cap 3 epochs)"], "\(names)")
        let pooled = try ReportData(store: store).comparisons[1].arms[0]
        #expect(pooled.runs.count == 3 && pooled.runs.allSatisfy { $0.testAccuracy == 0.89 })
        // Alone, the full-data runs keep their plain name; the audit names the full split.
        let plain = try ResultsStore(path: IDXFiles.temporaryFolder() + "/plain.sqlite")
        for seed in 1...2 { try plain.insert(Self.trainRun(seed: UInt64(seed), accuracy: 0.89)) }
        #expect(try ReportData(store: plain).comparisons.map(\.name) == [base])
    }

    /// Runs on a GPU and on the CPU are never one arm: each device is its own comparison, and the
    /// audit of each names the other devices the store holds runs on.
    @Test func aGPURunIsNeverPooledWithCPURuns() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/devices.sqlite")
        for seed in 1...2 { try store.insert(Self.trainRun(seed: UInt64(seed), accuracy: 0.89)) }
        var gpu = Self.trainRun(seed: 3, accuracy: 0.88)
        gpu.record.environment?.device = "cuda:0"
        gpu.record.environment?.gpu = .init(name: "NVIDIA H100 80GB HBM3", computeCapability: "9.0", multiprocessors: 132,
                                             memoryBytes: 80 << 30, driverCUDA: "13.0", math: "fp32")
        try store.insert(gpu)
        let data = try ReportData(store: store)
        #expect(data.comparisons.map(\.name) == ["fashion-mnist/mlp-2x1000 (on NVIDIA H100 80GB HBM3)", "fashion-mnist/mlp-2x1000 (on the CPU)"])
        #expect(data.comparisons.map { $0.arms[0].runs.count } == [1, 2])
        let findings = data.comparisons.map { FairnessAudit.findings(in: $0, allStudies: []).filter { $0.kind == "device" }.map(\.detail) }
        #expect(findings == [["the store also holds runs of fashion-mnist/mlp-2x1000 on the CPU: reported as their own comparison, never pooled with these"],
                             ["the store also holds runs of fashion-mnist/mlp-2x1000 on NVIDIA H100 80GB HBM3: reported as their own comparison, never pooled with these"]])
    }

    /// A run traced on a GPU draws its utilisation, SM clock and device-wide memory over time;
    /// a CPU-only store draws no GPU chart.
    @Test func theTraceChartsShowTheGPUColumns() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/gpu-trace.sqlite")
        var gpu = Self.trainRun(seed: 1, accuracy: 0.88)
        gpu.traceRows = (0..<5).map { i in [Double(i) * 0.1, 50, 3000, 3e8, 300, 90, 1980 - Double(i) * 10, 2e9] }
        try store.insert(gpu)
        let html = try Report(data: try ReportData(store: store), storePath: "gpu-trace.sqlite").files()["report.html"]!
        #expect(html.contains("GPU utilisation (%)") && html.contains("GPU SM clock (MHz)") && html.contains("GPU memory in use, device-wide (MiB)"))
        let cpuOnly = try ResultsStore(path: IDXFiles.temporaryFolder() + "/cpu-trace.sqlite")
        var cpu = Self.trainRun(seed: 1, accuracy: 0.88)
        cpu.traceRows = (0..<5).map { i in [Double(i) * 0.1, 50, 3000, 3e8, 30, nil, nil, nil] }
        try cpuOnly.insert(cpu)
        let plain = try Report(data: try ReportData(store: cpuOnly), storePath: "cpu-trace.sqlite").files()["report.html"]!
        #expect(plain.contains("CPU utilisation (%)") && !plain.contains("GPU SM clock"))
    }
}
