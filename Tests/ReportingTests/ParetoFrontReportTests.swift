import Foundation
import Records
import Reporting
import Results
import Testing
import TestSupport
import Tuning

/// A multi-objective study in the report: its front drawn (accuracy against the cost, the
/// dominated trials faded) and listed with each front trial's parameters.
@Suite struct ParetoFrontReportTests {
    @Test func aMultiObjectiveStudysFrontIsDrawnAndListed() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/front.sqlite")
        var study = FairnessAuditTests.study("mo", algorithm: "mf", seed: 1)
        study.objectives = [.validationAccuracy, StudyObjective(name: "energy_joules", direction: .minimize)]
        let id = try store.openStudy(study).id!
        // (accuracy, joules): 0, 1 and 3 trade off; 2 is dominated by 1, 4 by 3.
        for (accuracy, joules) in [(0.70, 10.0), (0.80, 20.0), (0.75, 25.0), (0.85, 40.0), (0.60, 50.0)] {
            guard case .trial(let trial) = try store.claimTrial(studyID: id, workerID: "w", staleAfter: 60, decide: { _, n in
                ["learning_rate": (1e-4 * Double(n + 1), .float(low: 1e-5, high: 1e-2, log: true))]
            }) else { Issue.record("no trial"); return }
            try store.finishTrial(trialID: trial.id, workerID: "w", state: .complete, values: [accuracy, joules], failureReason: nil, run: nil)
        }
        let read = try #require(try store.study(named: "mo"))
        #expect(read.objectives == study.objectives)
        #expect(try store.trials(ofStudy: id).paretoFront(read.objectives).map(\.number) == [0, 1, 3])
        let files = try Report(data: try ReportData(store: store), storePath: "front.sqlite").files()
        let html = files["report.html"]!
        #expect(html.contains("Pareto front — mo") && html.contains("dominated trials (2)") && html.contains("Pareto front (3)"))
        let markdown = files["tables.md"]!
        #expect(markdown.contains("| mo | mf |") && markdown.contains("Pareto front of 3"))
        let table = markdown.components(separatedBy: "### Pareto front of mo")[1]
        #expect(table.contains("| 0 | 0.7 | 10 | learning_rate=0.0001 |") && table.contains("| 3 | 0.85 | 40 | learning_rate=0.0004 |"), "\(table)")
        #expect(!table.contains("| 2 |") && !table.contains("| 4 |"))
    }
}

/// Runs whose training window shared the CPUs with other processes are named by the audit:
/// their time and energy are not the arm's own.
@Suite struct ContendedMeasurementAuditTests {
    @Test func runsMeasuredUnderLoadAreAFinding() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/load.sqlite")
        let runs: [(String, Int64, Double)] = [("bp", 2, 0.0), ("bp", 3, 0.0), ("mf", 2, 1.6), ("mf", 3, 0.01)]
        for (algorithm, seed, other) in runs {
            var record = FairnessAuditTests.run(.init(algorithm: algorithm, seed: seed)).record
            record.windowContention = Contention(seconds: 2, otherCPUSeconds: other, stealSeconds: 0, contended: other > 0.2)
            try store.insert(StoredRun(record))
        }
        let data = try ReportData(store: store)
        let findings = FairnessAudit.findings(in: data.comparisons[0], allStudies: [])
        let loaded = try #require(findings.first { $0.kind == "measured under load" })
        #expect(loaded.detail.hasSuffix("mf: 1 of 2 runs (up to 0.80 CPUs busy elsewhere)"), "\(loaded.detail)")
        #expect(!loaded.detail.contains("bp:"))
    }
}

