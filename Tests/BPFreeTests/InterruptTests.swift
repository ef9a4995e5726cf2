import Foundation
import GRDB
import Records
import Results
import Testing
import TestSupport
import Tuning

/// A `bpfree` process of the built binary, its output in a file, to signal and wait for.
struct BPFreeProcess {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
    let process = Process()
    let log: String

    init(_ arguments: [String], log: String) throws {
        self.log = log
        FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try output.close()  // the child has its own
    }

    func signal(_ number: Int32) { Foundation.kill(process.processIdentifier, number) }

    /// The exit status, or nil if the process still runs after `seconds`.
    func exitStatus(within seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Whether `text` appeared in the output within `seconds` (a generous bound: a busy machine
    /// is slow to start a run, and the test waits for the event, not for a time).
    func waitForOutput(containing text: String, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !output.contains(text), process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return output.contains(text)
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Runs `bpfree` to its end; its exit status (128 + the signal if one ended it) and its
    /// standard error. Standard output is discarded.
    static func run(_ arguments: [String], environment: [String: String]? = nil,
                    in folder: String? = nil) throws -> (status: Int32, errors: String) {
        try run(arguments, environment: environment, in: folder, output: FileHandle.nullDevice)
    }

    /// `run`, with standard output and standard error together.
    static func runCapturingOutput(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let (status, text) = try run(arguments, environment: environment, in: nil, output: nil)
        return (status, text)
    }

    /// `output`: where standard output goes; nil: with standard error.
    private static func run(_ arguments: [String], environment: [String: String]?, in folder: String?,
                            output: FileHandle?) throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = output ?? errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus, text)
    }
}

/// SIGINT and SIGTERM sent to real `bpfree` processes (issue: nothing lost on an interrupt).
@Suite struct InterruptTests {
    static let synthetic = "synthetic:samples=6000,classes=3,shape=16x16"

    /// `train` stops at a batch boundary within a few seconds, records the run as interrupted
    /// (JSON and store) with the epochs it finished, and exits with 128 + 15.
    @Test func trainStopsCleanlyOnSIGTERM() throws {
        let folder = IDXFiles.temporaryFolder()
        let train = try BPFreeProcess(["train", "--algorithm", "bp", "--architecture", "mlp:128,128", "--dataset", Self.synthetic,
                                       "--epochs", "1000", "--patience", "1000", "--threads", "1",
                                       "--output", folder + "/run.json", "--store", folder + "/runs.sqlite"], log: folder + "/log")
        defer { train.kill() }
        #expect(train.waitForOutput(containing: "epoch 1/1000", within: 600), "\(train.output)")
        train.signal(SIGTERM)
        let status = train.exitStatus(within: 10)
        #expect(status == 128 + SIGTERM, "\(train.output)")
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: folder + "/run.json")))
        #expect(record.status == .interrupted && record.failureReason == "interrupted by SIGTERM" && record.testAccuracy == nil)
        #expect(!record.epochs.isEmpty && record.effectiveEpochs == record.epochs.count, "the epochs it finished")
        let runs = try ResultsStore(path: folder + "/runs.sqlite").runs()
        #expect(runs.count == 1 && runs[0].record == record)
        // A single run does not resume: it says what the same command again does.
        #expect(train.output.contains("interrupted by SIGTERM; the run is recorded as interrupted with the epochs it finished; "
                                      + "the same command again starts a new run from epoch 1"), "\(train.output)")
        #expect(!train.output.contains("to resume"))
    }

    /// A second signal (more than a second after the first) exits at once, even where the first
    /// waits: here `train` has finished and waits for the store, which another process has locked.
    @Test func aSecondSignalExitsAtOnce() throws {
        let folder = IDXFiles.temporaryFolder()
        let path = folder + "/runs.sqlite"
        _ = try ResultsStore(path: path)
        let holder = try DatabaseQueue(path: path)
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? holder.inTransaction(.exclusive) { _ in
                locked.signal()
                release.wait()
                return .rollback
            }
        }
        locked.wait()
        defer { release.signal() }
        let train = try BPFreeProcess(["train", "--algorithm", "bp", "--architecture", "mlp:8", "--dataset", "synthetic:samples=600,classes=3,shape=4x4",
                                       "--epochs", "2", "--threads", "1", "--store", path], log: folder + "/log")
        defer { train.kill() }
        Thread.sleep(forTimeInterval: 3)  // trained; now waiting for the lock
        train.signal(SIGINT)
        #expect(train.exitStatus(within: 1.5) == nil, "the first signal waits for the store: \(train.output)")
        train.signal(SIGINT)
        #expect(train.exitStatus(within: 1) == 128 + SIGINT, "\(train.output)")
        #expect(train.output.contains("SIGINT again: exiting now"))
    }

    /// The bar: SIGTERM to a bench at a random moment, then the same command again: it
    /// finishes, every final run and every trial is there exactly once, the interrupted run is
    /// marked, and the store is intact.
    @Test func anInterruptedBenchResumesAndFinishes() throws {
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/bench.sqlite"
        let arguments = ["bench", "--suite", "quick", "--datasets", Self.synthetic, "--algorithms", "mf", "--architecture", "mlp:128,128",
                         "--trials", "3", "--epochs", "4", "--final-epochs", "4", "--seeds", "2", "--threads", "1", "--workers", "2",
                         "--store", store]
        let delay = Double.random(in: 1...8)
        let first = try BPFreeProcess(arguments, log: folder + "/first.log")
        defer { first.kill() }
        Thread.sleep(forTimeInterval: delay)
        first.signal(SIGTERM)
        let status = first.exitStatus(within: 15)
        #expect(status == 128 + SIGTERM || status == 0, "SIGTERM after \(delay) s: \(first.output)")
        let second = try BPFreeProcess(arguments, log: folder + "/second.log")
        defer { second.kill() }
        #expect(second.exitStatus(within: 120) == 0, "\(second.output)")

        let results = try ResultsStore(path: store)
        let runs = try results.runs()
        let studies = try results.studies()
        #expect(studies.count == 2)
        for study in studies {
            let trials = try results.trials(ofStudy: study.id!)
            let counted = trials.countedTowardsBudget
            #expect(counted.count == 3 && counted.allSatisfy { $0.state == .complete }, "SIGTERM after \(delay) s: \(study.name)")
            for given in trials where !counted.contains(where: { $0.id == given.id }) {
                #expect(given.state == .fail && given.failureReason == "interrupted by SIGTERM; given back and retried")
            }
            // One completed run per complete trial, linked to it.
            let trialRuns = runs.filter { $0.study == study.name && $0.role == .trial && $0.status != .interrupted }
            #expect(trialRuns.compactMap(\.trialNumber).sorted() == counted.map(\.number).sorted())
            #expect(Set(counted.compactMap(\.runID)) == Set(trialRuns.compactMap(\.id)))
            let finals = runs.filter { $0.study == study.name && $0.role == .final }
            #expect(finals.filter { $0.status == .completed }.map(\.seed).sorted() == [2, 3], "each final seed exactly once")
        }
        #expect(runs.filter { $0.status == .interrupted }.allSatisfy { $0.failureReason == "interrupted by SIGTERM" })
        if status == 128 + SIGTERM {
            #expect(runs.contains { $0.status == .interrupted } || first.output.contains("interrupted by SIGTERM"), "the interrupted run is marked")
        }
        #expect(try DatabaseQueue(path: store).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
    }
}
