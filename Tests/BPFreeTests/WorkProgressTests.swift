import Foundation
import Records
import Reporting
import Results
import Testing
import TestSupport
@testable import bpfree
@testable import Experiments

/// `tune` and `bench` say how far they are (k/N) and how long is left at the pace so far.
@Suite struct WorkProgressTests {
    @Test func unitsFoundDoneCountButOnlyUnitsRunHereSetThePace() {
        var progress = WorkProgress(total: 10)
        #expect(progress.line("runs done") == "0/10 runs done")
        progress.finished(4, seconds: nil)  // a resumed bench: done before, no pace yet
        #expect(progress.line("runs done") == "4/10 runs done")
        progress.finished(2, seconds: 60)   // 30 s a run here: 4 left → 2 min
        #expect(progress.line("runs done") == "6/10 runs done, about 2m00s left")
        progress.finished(4, seconds: 100)
        #expect(progress.line("runs done") == "10/10 runs done")
    }

    @Test func benchAndItsStudiesPrintKOfNWithTheTimeLeft() throws {
        let folder = IDXFiles.temporaryFolder()
        let (status, errors) = try BPFreeProcess.run([
            "bench", "--suite", "quick", "--algorithms", "mf", "--datasets", "synthetic:samples=300,classes=3,shape=4x4", "--architecture", "mlp:8",
            "--trials", "2", "--epochs", "1", "--final-epochs", "1", "--seeds", "2", "--threads", "1", "--store", folder + "/bench.sqlite"])
        #expect(status == 0, "\(errors)")
        let lines = errors.split(separator: "\n").map(String.init)
        // Two arms (mf, bp), each 2 trials + 2 final runs: 8 units.
        #expect(lines.contains { $0.hasPrefix("[1/2] ") && $0.hasSuffix("— 0/8 trials and final runs done") }, "\(errors)")
        #expect(lines.contains { $0.hasPrefix("[2/2] ") && $0.contains("— 4/8 trials and final runs done, about ") }, "\(errors)")
        #expect(lines.contains { $0.contains(" complete: value ") && $0.contains("— 1/2 trials finished, about ") && $0.hasSuffix(" left at this worker's pace") },
                "\(errors)")
        #expect(lines.contains { $0.contains(" complete: value ") && $0.hasSuffix("— 2/2 trials finished") }, "\(errors)")
        #expect(lines.contains { $0.hasSuffix("— 8/8 trials and final runs done") }, "\(errors)")
    }
}

/// bench's summary reads each rule against the control its comparison carries.
@Suite struct BenchReadingTests {
    @Test func aRuleNoBetterThanItsControlIsNoFinding() throws {
        let arms = Benchmark(suite: .quick, seed: 1, threads: 1).arms(algorithms: ["fa"]).arms
        #expect(arms.map(\.study.algorithm) == ["fa", "bp", "shallow"])
        let accuracy = ["fa": 0.80, "bp": 0.89, "shallow": 0.795]
        let results = arms.map { arm in
            Benchmark.ArmResult(arm: arm, bestTrial: nil, finalRuns: (1...2).map { seed in
                StoredRun(RunRecord.example(algorithm: arm.study.algorithm, seed: UInt64(seed), accuracy: accuracy[arm.study.algorithm]!))
            })
        }
        let line = Bench.summaryLine(results[0], among: results)
        #expect(line.hasSuffix("NOT A FINDING: no better than the shallow control (80.00% vs 79.50%, within 1.5 points)"), "\(line)")
        #expect(Bench.summaryLine(results[1], among: results).hasSuffix("\tresult"), "BP declares no control")
    }

    @Test func aRuleBelowItsControlIsSaidToBeBelowIt() {
        let runs = { (algorithm: String, accuracy: Double) in
            (1...2).map { StoredRun(RunRecord.example(algorithm: algorithm, seed: UInt64($0), accuracy: accuracy)) }
        }
        let reason = FairnessAudit.whyNotAFinding(runs("fg", 0.823), control: ("shallow", runs("shallow", 0.8626)))
        #expect(reason == "no better than the shallow control (82.30% vs 86.26%, 3.96 points below it)", "\(reason ?? "nil")")
        #expect(FairnessAudit.whyNotAFinding(runs("drtp", 0.8777), control: ("shallow", runs("shallow", 0.8626))) == nil)
    }
}
