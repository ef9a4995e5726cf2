import Algorithms
import Experiments
import FileSystem
import Foundation
import Records
import Results
import TensorCore
import Testing
import TestSupport
import Training
@testable import bpfree

@Suite struct TrainCommandTests {
    @Test func parsesEveryFlagIntoTheConfiguration() throws {
        let command = try Train.parse([
            "--algorithm", "bp", "--architecture", "mlp:300,100", "--dataset", "mnist", "--data-dir", "/d",
            "--seed", "7", "--epochs", "30", "--patience", "5", "--min-delta", "0.001", "--batch-size", "64",
            "--learning-rate", "0.001", "--weight-decay", "0.0001", "--train-limit", "500", "--threads", "1",
            "--output", "/tmp/x.json",
        ])
        let configuration = try command.makeConfiguration()
        #expect(configuration == RunConfiguration(
            algorithm: "bp", architecture: .mlp(hiddenWidths: [300, 100]), dataset: "mnist", dataDirectory: "/d",
            seed: 7, stopping: StoppingRule(patience: 5, minDelta: 0.001, maxEpochs: 30),
            overrides: CommonHyperparameters(learningRate: 0.001, weightDecay: 0.0001, batchSize: 64),
            trainLimit: 500, threads: 1))
        #expect(command.output == "/tmp/x.json")
    }

    @Test func defaultsAreTheHarmonizedProtocolAndBP() throws {
        let configuration = try Train.parse([]).makeConfiguration()
        #expect(configuration.algorithm == "bp")
        #expect(configuration.architecture == nil, "the algorithm's default")
        #expect(configuration.dataset == "fashion-mnist")
        #expect(configuration.stopping == .harmonized)
        #expect(configuration.seed == 1)
    }

    @Test(arguments: [
        (["--architecture", "cnn"], "--architecture: unknown architecture 'cnn'"),
        (["--architecture", "mlp:100,x"], "--architecture: 'mlp:100,x' has a width that is not a positive integer"),
    ])
    func badArchitectureNamesTheFlag(arguments: [String], message: String) {
        #expect(throws: ConfigurationError.self) { try Train.parse(arguments).makeConfiguration() }
        do { _ = try Train.parse(arguments).makeConfiguration() } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }

    @Test(arguments: [
        (["--algorithm", "nope"], "--algorithm: unknown algorithm 'nope'; valid: bp, mf, ff, dfa"),
        (["--dataset", "imagenet"], "--dataset: unknown dataset 'imagenet'"),
        (["--epochs", "0"], "--epochs: must be at least 1"),
        (["--patience", "0"], "--patience: must be at least 1"),
        (["--learning-rate=-1"], "--learning-rate: must be a positive number"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--train-limit", "0"], "--train-limit: must be at least 1"),
        (["--threads", "0"], "--threads: must be at least 1"),
    ])
    func badSettingsNameTheFlag(arguments: [String], message: String) throws {
        let configuration = try Train.parse(arguments).makeConfiguration()
        do {
            try configuration.validate()
            Issue.record("expected \(message)")
        } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }

    @Test func helpSnapshot() throws {
        let help = Train.helpMessage(columns: 100)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/train-help.txt")
        if ProcessInfo.processInfo.environment["BPFREE_RECORD_SNAPSHOTS"] != nil {
            // Recording writes the snapshot; it does not also compare against what it just wrote.
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try help.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(help == expected, "run with BPFREE_RECORD_SNAPSHOTS=1 to re-record after an intended change")
    }
}

@Suite struct EndToEndTests {
    /// Two batches of 128 on Fashion-MNIST-format files, through the command, to a run record;
    /// data, record, trace and store in a folder whose name has quotes, `<`, `&`, a line break
    /// and non-ASCII.
    @Test func twoBatchRunWritesAValidRecord() throws {
        let folder = IDXFiles.temporaryFolder() + "/data \"<&>\n Ünï'"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        IDXFiles.writeDataset(to: folder, train: 300, test: 50)
        let output = folder + "/run.json"
        let command = try Train.parse([
            "--data-dir", folder, "--architecture", "mlp:32", "--epochs", "1", "--train-limit", "256",
            "--threads", "1", "--output", output, "--trace", folder + "/trace.csv", "--country", "FRA",
            "--store", folder + "/runs.sqlite",
        ])
        try command.run()
        let data = try Data(contentsOf: URL(fileURLWithPath: output))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        for key in ["algorithm", "dataset", "architecture", "seed", "hyperparameters", "epochs", "effective_epochs",
                    "best_epoch", "status", "failure_reason", "test_accuracy", "train_seconds", "train_samples",
                    "samples_per_second", "train_flops", "forward_flops_per_sample", "flops_per_second",
                    "peak_rss_bytes", "peak_tensor_bytes", "threads", "environment", "stages",
                    "energy_joules", "energy_source", "energy_by_meter", "co2e_grams", "carbon_intensity_g_per_kwh",
                    "peak_rss_method", "trace_summary"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["failure_reason"] is NSNull)
        let record = try JSONDecoder().decode(RunRecord.self, from: data)
        #expect(record.status == .completed)
        if record.peakRSSMethod == .vmhwm {
            #expect(record.peakRSSAboveStartBytes.map { $0 >= 0 && $0 < record.peakRSSBytes } == true)
        }
        #expect(record.trainSamples == 256)
        #expect(record.epochs.count == 1 && record.effectiveEpochs == 1 && record.bestEpoch == 1)
        #expect(record.hyperparameters["learning_rate"] == .real(2e-4))
        #expect(record.hyperparameters["batch_size"] == .integer(128))
        #expect((0...1).contains(record.testAccuracy ?? -1))
        // 2 batches × 128 × (forward 784·32 + 32·10, backward twice that minus the first dX) plus validation.
        #expect(record.trainFlops > 0 && record.flopsPerSecond > 0)
        #expect(record.forwardFlopsPerSample == Double(2 * (784 * 32 + 32 * 10)))
        #expect(record.peakRSSBytes > 0 && record.peakTensorBytes > 0)
        #expect(record.threads == 1)
        let environment = try #require(record.environment)
        #expect(!environment.blas.isEmpty)
        #expect(environment.blasCoreChoice?.core == environment.blasCore)
        #expect(record.energySource != nil && (record.energyJoules ?? 0) > 0)
        #expect(record.carbonIntensityGPerKWh == 56.039 && record.carbonIntensitySource == "country:FRA")
        #expect(abs((record.co2eGrams ?? 0) - record.energyJoules! / 3.6e6 * 56.039) < 1e-12)
        if record.energySource == "estimate" { #expect(record.energyModel != nil) }
        let trace = try String(contentsOfFile: folder + "/trace.csv", encoding: .utf8)
        #expect(trace.hasPrefix("time_s,cpu_utilization_percent"))
        let stored = try ResultsStore(path: folder + "/runs.sqlite").runs()
        // One record type from the trainer to the report: the store gives back the record the run wrote.
        #expect(stored.count == 1 && stored[0].record == record)
        // The store's path is shown escaped in the report.
        try ReportCommand.parse(["--store", folder + "/runs.sqlite", "--out", folder + "/report"]).run()
        let html = try String(contentsOfFile: folder + "/report/report.html", encoding: .utf8)
        #expect(html.contains("data &quot;&lt;&amp;&gt;\n Ünï'/runs.sqlite") && !html.contains("data \"<&>"))
    }

    /// A run whose training window shares the CPUs with a busy process says so in its summary
    /// and records what else ran (other processes' CPU seconds over the window).
    @Test func aRunMeasuredUnderLoadSaysSo() throws {
        let folder = IDXFiles.temporaryFolder()
        let busy = Process()
        busy.executableURL = URL(fileURLWithPath: "/bin/sh")
        busy.arguments = ["-c", "while :; do :; done"]
        try busy.run()
        // SIGKILL: a child of the test process may start with SIGTERM blocked.
        defer { kill(busy.processIdentifier, SIGKILL); busy.waitUntilExit() }
        let output = try PythonEnvironment.run(BPFreeProcess.binary, [
            "train", "--algorithm", "bp", "--architecture", "mlp:256,256", "--dataset", "synthetic:samples=4000,classes=3,shape=16x16",
            "--epochs", "3", "--threads", "1", "--no-store", "--output", folder + "/run.json"])
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: folder + "/run.json")))
        let contention = try #require(record.windowContention)
        #expect(contention.contended && contention.otherCPUSeconds > 0.1 * contention.seconds, "\(contention)")
        #expect(output.contains("; measured under load: other processes used "), "\(output)")
    }

    @Test func unknownCountryNamesTheFlag() throws {
        let configuration = try Train.parse(["--country", "ATL"]).makeConfiguration()
        #expect { try configuration.validate() } throws: { "\($0)".hasPrefix("--country: no carbon intensity for 'ATL'") }
    }

    @Test func syntheticDatasetRunsEndToEndWithoutNetwork() throws {
        let folder = IDXFiles.temporaryFolder()
        let command = try Train.parse(["--algorithm", "bp", "--architecture", "mlp-2x1000", "--dataset",
                                       "synthetic:samples=600,classes=4,shape=2x4x4", "--epochs", "1", "--threads", "1",
                                       "--output", folder + "/run.json", "--no-store"])
        try command.run()
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/run.json")))
        #expect(record.dataset == "synthetic:samples=600,classes=4,shape=2x4x4")
        #expect(record.status == .completed && record.trainSamples == 3 * 128)
    }

    @Test func missingDataNamesTheFolder() throws {
        let folder = IDXFiles.temporaryFolder()
        let command = try Train.parse(["--data-dir", folder, "--epochs", "1", "--no-store"])
        #expect { try command.run() } throws: { "\($0)".contains(folder) && "\($0)".contains("no fashion-mnist files") }
    }
}

/// The kernel choice of a real `bpfree` process, which re-executes itself before OpenBLAS runs.
@Suite struct BLASKernelSelectionTests {
    /// `bpfree info --json` of the real binary under `environment`, decoded.
    static func info(_ environment: [String: String]) throws -> InfoReport {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        return try Info.report(ofChildWith: environment, threads: 1, executable: binary)
    }

    /// A deliberately weak core loaded into the process (Prescott, OpenBLAS's fallback for CPUs
    /// it does not know) is replaced by the best core the CPU's features allow.
    @Test func aWeakCoreIsCorrected() throws {
        guard let best = BLASCoreChoice.bestCore(for: .current()) else { return }  // no AVX: nothing to correct
        let report = try Self.info(["OPENBLAS_CORETYPE": "Prescott", BLASCoreChoice.policyVariable: "best"])
        #expect(report.environment.blasCore == best.core)
        let choice = try #require(report.environment.blasCoreChoice)
        #expect(choice.chosenBy == "bpfree" && choice.libraryCore == "Prescott" && choice.core == best.core)
        #expect(report.cpuFeatures.contains("avx"))
    }

    @Test func theUsersCoreIsKept() throws {
        let report = try Self.info(["OPENBLAS_CORETYPE": "Prescott"])
        #expect(report.environment.blasCore == "Prescott")
        #expect(report.environment.blasCoreChoice?.chosenBy == "user")
    }

    @Test func outOfTheBoxTheCoreIsAtLeastTheBestTier() throws {
        let report = try Self.info([:])
        let choice = try #require(report.environment.blasCoreChoice)
        if let best = BLASCoreChoice.bestCore(for: .current()), let tier = BLASCoreChoice.tier(of: choice.core) {
            #expect(tier >= best.tier, "\(choice.reason)")
        }
        #expect(choice.chosenBy != "user")
    }
}

/// Bad places and hostile strings: refused early, or stored and shown escaped.
@Suite struct HostileInputTests {
    /// A mistyped output folder fails at once, before the data is looked for (the missing
    /// data folder would otherwise be the error) and long before any training.
    @Test(arguments: [(["--output", "/missing/dir/run.json"], "--output: the folder of /missing/dir/run.json does not exist"),
                      (["--trace", "/missing/trace.csv"], "--trace: the folder of /missing/trace.csv does not exist"),
                      (["--output", "/tmp"], "--output: /tmp is a folder, not a file"),
                      (["--output", "/dev/null"], "--output: /dev/null is not a regular file"),
                      (["--trace", "/dev/null"], "--trace: /dev/null is not a regular file"),
                      (["--emissions", "/dev/null"], "--emissions: /dev/null is not a regular file"),
                      (["--threads", "100000"], "--threads: at most the"),
                      (["--output", "/tmp/" + String(repeating: "r", count: 300) + ".json"], "--output: the file name is 305 bytes long"),
                      (["--dataset", "synthetic:samples=99999999999999"], "more Float32 data than this machine's"),
                      (["--dataset", "synthetic:shape=100000x100000x3"], "more Float32 data than this machine's")])
    func outputPathsAreCheckedBeforeAnyWork(arguments: [String], message: String) throws {
        let command = try Train.parse(["--data-dir", "/no/such/data", "--no-store"] + arguments)
        #expect { try command.run() } throws: { "\($0)".contains(message) }
    }

    /// A FIFO is refused as an output before any work (the atomic rename would replace it), and
    /// an emissions file that `--emissions` would refuse after training is refused before it.
    @Test func aFIFOAndAForeignEmissionsFileAreRefusedBeforeAnyWork() throws {
        let folder = IDXFiles.temporaryFolder()
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        let fifo = try Train.parse(["--data-dir", "/no/such/data", "--no-store", "--output", folder + "/fifo"])
        #expect { try fifo.run() } throws: { "\($0)".contains("--output: \(folder)/fifo is not a regular file") }
        try "a,b\n1,2\n".write(toFile: folder + "/emissions.csv", atomically: true, encoding: .utf8)
        let foreign = try Train.parse(["--data-dir", "/no/such/data", "--no-store", "--emissions", folder + "/emissions.csv"])
        #expect { try foreign.run() } throws: { "\($0)".contains("--emissions: \(folder)/emissions.csv: its header is neither CodeCarbon 3.3") }
        #expect(try String(contentsOfFile: folder + "/emissions.csv", encoding: .utf8) == "a,b\n1,2\n")
    }

    /// Without a GPU, `--device cuda` ends at once, before any data is read, with one line that
    /// names libcuda.so.1 and where it was looked for; a malformed device names the flag.
    @Test(.enabled(if: dlopen("libcuda.so.1", RTLD_NOW) == nil))
    func cudaWithoutAGPUIsOneLineNamingTheDriver() throws {
        for command in ["train", "tune", "bench"] {
            let arguments = [command, "--device", "cuda", "--data-dir", "/no/such/data", "--no-store"].filter { command == "train" || $0 != "--no-store" }
            let (status, text) = try BPFreeProcess.run(arguments)
            #expect(status != 0)
            let lines = text.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("--device cuda:0: libcuda.so.1 not found; searched: BPFREE_CUDA_LIBS"), "\(command): \(text)")
        }
        #expect(throws: (any Error).self) { try Train.parse(["--device", "gpu"]) }
        #expect(try Train.parse(["--device", "cuda:1"]).runOptions.device == .cuda(1))
    }

    /// One-character relative paths (Foundation's `deletingLastPathComponent` traps on them) are
    /// written like any other: a real process in a fresh folder, every path flag one letter.
    @Test func oneCharacterRelativePathsAreWritten() throws {
        let folder = IDXFiles.temporaryFolder()
        func run(_ arguments: [String]) throws -> Int32 { try BPFreeProcess.run(arguments, in: folder).status }
        #expect(try run(["train", "--architecture", "mlp:8", "--dataset", "synthetic:samples=600,classes=4,shape=2x4x4",
                         "--epochs", "1", "--threads", "1", "--store", "s", "--output", "j", "--trace", "t", "--emissions", "e"]) == 0)
        #expect(try run(["report", "--store", "s", "--out", "x"]) == 0)
        #expect(try run(["report", "--store", "s", "--out", "a/b"]) == 0)
        for file in ["s", "j", "t", "e", "x/report.html", "a/b/report.html"] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file) was not written")
        }
    }

    @Test(arguments: [("s", "."), ("a/b", "a"), ("/x", "/"), ("/", "/"), ("a//b/", "a"), ("./j", "."), ("../a/b.json", "../a"), ("ü/é", "ü")])
    func theFolderOfAPath(path: String, folder: String) {
        #expect(PathComponents.folder(of: path) == folder)
    }

    /// A network that cannot fit is refused at once, with the estimate and the memory available.
    @Test func aModelThatCannotFitIsRefusedBeforeAllocating() throws {
        let command = try Train.parse(["--architecture", "mlp:100000,100000", "--batch-size", "4096", "--dataset", "synthetic", "--no-store"])
        let start = Date()
        #expect { try command.run() } throws: { error in
            "\(error)".contains("--architecture: mlp-2x100000 at batch 4096 needs about") && "\(error)".contains("GiB are available")
        }
        #expect(Date().timeIntervalSince(start) < 10, "refused before any allocation or training")
        let estimate = MemoryEstimate(.mlp(hiddenWidths: [1000, 1000]), inputShape: [28, 28], classCount: 10, batchSize: 128)
        #expect(estimate.parameters == 784 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10)
        #expect(estimate.activations == 128 * (784 + 1000 + 1000 + 10))
        #expect(throws: ConfigurationError.self) { try estimate.check(architecture: .mlp(hiddenWidths: [1000, 1000]), batchSize: 128, available: 1e6) }
        try estimate.check(architecture: .mlp(hiddenWidths: [1000, 1000]), batchSize: 128, available: 1e12)
    }

    /// A study named with HTML, quotes, SQL, a line break and non-ASCII is stored as given,
    /// tuned, and reported escaped (HTML and Markdown) or quoted (CSV).
    @Test func aHostileStudyNameIsStoredTunedAndReportedEscaped() throws {
        let name = "<script>x</script>'; DROP TABLE run; --\n\"Zürich\" & co"
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/h.sqlite"
        try Tune.parse(["--algorithm", "bp", "--architecture", "mlp:8", "--dataset", TuneAndBenchCommandTests.synthetic,
                        "--trials", "2", "--epochs", "1", "--threads", "1", "--study", name, "--store", store]).run()
        let results = try ResultsStore(path: store)
        let study = try #require(try results.study(named: name))
        #expect(try results.trials(ofStudy: study.id!).filter { $0.state == .complete }.count == 2)
        #expect(try results.runs().count == 2, "the run table is still there")
        try ReportCommand.parse(["--store", store, "--out", folder + "/report"]).run()
        let html = try String(contentsOfFile: folder + "/report/report.html", encoding: .utf8)
        let markdown = try String(contentsOfFile: folder + "/report/tables.md", encoding: .utf8)
        for text in [html, markdown] {
            #expect(!text.contains("<script>x"), "the name unescaped")
            #expect(text.contains("&lt;script&gt;x&lt;/script&gt;'; DROP TABLE run; --"), "the escaped name")
        }
        #expect(html.contains("&quot;Zürich&quot; &amp; co"))
        #expect(markdown.contains("--<br>\"Zürich\" &amp; co"), "a line break in a Markdown cell is a <br>, not the end of the row")
        let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        for file in ["trials.csv", "runs.csv"] {
            let text = try String(contentsOfFile: folder + "/report/" + file, encoding: .utf8)
            #expect(text.contains(quoted + ","), "\(file) keeps the name as one quoted field")
        }
    }
}

/// Several `bpfree train` processes at once on one SQLite store (the store waits for the write
/// lock): every run is recorded, each exactly once.
@Suite struct ConcurrentStoreTests {
    @Test func fourConcurrentTrainProcessesAllRecordTheirRuns() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let store = IDXFiles.temporaryFolder() + "/shared.sqlite"
        let processes = try (1...4).map { seed -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["train", "--algorithm", "bp", "--architecture", "mlp:16", "--dataset", "synthetic:samples=2000,classes=3,shape=6x6",
                                 "--epochs", "60", "--patience", "60", "--threads", "1", "--seed", String(seed), "--trace-hz", "50", "--store", store]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            return process
        }
        for process in processes { process.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 })
        let runs = try ResultsStore(path: store).runs()
        #expect(runs.map(\.seed).sorted() == [1, 2, 3, 4])
        #expect(runs.allSatisfy { $0.epochs.count == 60 && !$0.traceRows.isEmpty })
    }
}

/// Progress a person can follow: each epoch line says how long is left at most, and a line
/// says when training has stopped and the test and inference passes run.
@Suite struct ProgressTests {
    final class Lines: @unchecked Sendable { var text = "" }

    @Test func epochLinesBoundTheTimeLeftAndThePassesAfterTheWindowAreAnnounced() {
        let lines = Lines()
        let reporter = ProgressReporter(live: false) { lines.text += $0 }
        func epoch(_ stage: String, _ number: Int, seconds: Double) -> EpochRecord {
            EpochRecord(stage: stage, epoch: number, trainLoss: 1, validationLoss: 1, validationAccuracy: 0.5, seconds: seconds, validationSeconds: 0)
        }
        // Stage 1 of 2, cap 10: after epoch 2 (mean 15 s), 8 + 10 epochs are left at most.
        reporter.epochDidEnd(epoch("layer1", 1, seconds: 10), stageIndex: 0, stageCount: 2, maxEpochs: 10)
        reporter.epochDidEnd(epoch("layer1", 2, seconds: 20), stageIndex: 0, stageCount: 2, maxEpochs: 10)
        reporter.epochDidEnd(epoch("layer2", 10, seconds: 15), stageIndex: 1, stageCount: 2, maxEpochs: 10)
        reporter.windowDidEnd()
        let text = lines.text.split(separator: "\n")
        #expect(text.count == 4)
        #expect(text[1].hasSuffix("at most 4m30s left"), "\(text[1])")
        #expect(!text[2].contains("left"), "nothing is left after the last stage's cap")
        #expect(text[3] == "training stopped; measuring test accuracy and inference cost")
    }
}
