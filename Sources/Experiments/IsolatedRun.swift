import Algorithms
import Foundation
import Records
import Synchronization
import Training

/// One training run in a process of its own, so that what it measures — its peak memory above
/// all — is what the same run measures alone (`bpfree train`). In one process a bench's final
/// runs and a study's trials carried what earlier runs left behind: resetting the kernel's
/// high-water mark restarts it at the resident set, which still holds the memory glibc, BLAS and
/// oneDNN kept (three MLP arms of a bench all showed 400 MiB, against 148–152 MiB alone).
///
/// The parent writes the configuration as JSON into a private folder and starts
/// `bpfree run-child FOLDER`, which runs it with `TrainingRun.perform` and leaves the record,
/// the trace and the model there. Events come up the child's standard output, a JSON line each
/// (batch progress at most every 100 ms, epochs, the window's ends), so the parent's observers
/// see what they would see in process; after every epoch the parent answers on the child's
/// standard input whether to stop (a pruner's request, or a trial taken over by another worker).
/// A signal to the parent is forwarded to the child, which stops at its next batch boundary and
/// records the run as interrupted, as in process.
public enum IsolatedRun {
    /// The bpfree program that runs child runs: set by the command-line tool. Nil (a library
    /// user's default, and the unit tests') runs in this process.
    public static let executable = Mutex<String?>(nil)

    /// What `bpfree run-child` is asked to do.
    struct Job: Codable {
        var configuration: RunConfiguration
        var keepingModel: Bool
    }

    /// One line of the child's standard output.
    enum Event: Codable {
        case batch(BatchProgress)
        case epoch(EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int)
        case windowStarted, windowEnded
    }

    /// The parent's answer after an epoch: a reason to stop, or none.
    struct Answer: Codable {
        var status: RunStatus?
        var reason: String?
    }

    struct Result: Codable {
        var record: RunRecord
        var trace: [[Double?]]
    }

    /// The child's error, thrown again in the parent with the child's words (a setting's
    /// error as the same `ConfigurationError`, so that the command says it the same way).
    public struct ChildFailure: Error, CustomStringConvertible, Codable {
        public let description: String
        var configuration: ConfigurationError?
    }

    static let jobFile = "job.json", resultFile = "result.json", failureFile = "failure.json", modelFile = "model.safetensors"

    /// `TrainingRun.perform` in a child process of `executable` (the bpfree program, by default
    /// the one set for this process), in this process when there is none.
    public static func perform(_ configuration: RunConfiguration, observers: [any TrainingObserver] = [], keepingModel: Bool = false,
                               executable: String? = executable.withLock { $0 }) throws -> (record: RunRecord, trace: [[Double?]], model: SavedModel?) {
        guard let executable else {
            return try TrainingRun.perform(configuration, observers: observers, keepingModel: keepingModel)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpfree-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        try encoder.encode(Job(configuration: configuration, keepingModel: keepingModel))
            .write(to: folder.appendingPathComponent(jobFile))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run-child", folder.path]
        // A child that died no longer reads its answers: writing to it must fail, not kill this process.
        signal(SIGPIPE, SIG_IGN)
        let events = Pipe(), answers = Pipe()
        process.standardOutput = events
        process.standardInput = answers
        try process.run()
        Interrupts.forwarding(to: [process.processIdentifier]) {
            relay(events.fileHandleForReading, answers: answers.fileHandleForWriting, to: observers)
            process.waitUntilExit()
        }
        if let data = try? Data(contentsOf: folder.appendingPathComponent(failureFile)) {
            let failure = (try? decoder.decode(ChildFailure.self, from: data)) ?? ChildFailure(description: "the run failed")
            throw failure.configuration ?? failure
        }
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(resultFile)) else {
            // A signal that reached the child before it could handle one ended it at once:
            // the run was interrupted, as it would have been at its first batch boundary.
            if let signal = Interrupts.requested { throw Interrupted(signal: signal) }
            let ending = process.terminationReason == .uncaughtSignal ? "was killed by signal \(process.terminationStatus)"
                                                                      : "ended with status \(process.terminationStatus)"
            throw ChildFailure(description: "the run's process (bpfree run-child) \(ending) and left no record")
        }
        let result = try decoder.decode(Result.self, from: data)
        let modelPath = folder.appendingPathComponent(modelFile).path
        let model = FileManager.default.fileExists(atPath: modelPath) ? try SavedModel(contentsOf: modelPath) : nil
        return (result.record, result.trace, model)
    }

    /// Passes the child's events to `observers` until the child closes its output; answers
    /// every epoch with the first stop request an observer makes.
    static func relay(_ events: FileHandle, answers: FileHandle, to observers: [any TrainingObserver]) {
        var buffer = Data()
        while case let chunk = events.availableData, !chunk.isEmpty {
            buffer.append(chunk)
            while let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<end]
                buffer.removeSubrange(buffer.startIndex...end)
                guard let event = try? decoder.decode(Event.self, from: line) else { continue }
                switch event {
                case .batch(let progress):
                    for observer in observers { observer.batchDidEnd(progress) }
                case .epoch(let record, let stageIndex, let stageCount, let maxEpochs):
                    for observer in observers { observer.epochDidEnd(record, stageIndex: stageIndex, stageCount: stageCount, maxEpochs: maxEpochs) }
                    let request = observers.lazy.compactMap { $0.stopRequest() }.first
                    try? answers.write(contentsOf: (try? encoder.encode(Answer(status: request?.status, reason: request?.reason))) ?? Data("{}".utf8))
                    try? answers.write(contentsOf: Data("\n".utf8))
                case .windowStarted:
                    for observer in observers { observer.windowDidStart() }
                case .windowEnded:
                    for observer in observers { observer.windowDidEnd() }
                }
            }
        }
    }

    /// The child's side (`bpfree run-child FOLDER`): runs the folder's job, leaves its result
    /// (or its failure) there. Its standard output carries only events: anything else the run
    /// prints goes to standard error.
    public static func serve(folder: String) throws {
        let directory = URL(fileURLWithPath: folder)
        let events = FileHandle(fileDescriptor: dup(STDOUT_FILENO), closeOnDealloc: true)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        Interrupts.install()
        do {
            let job = try decoder.decode(Job.self, from: Data(contentsOf: directory.appendingPathComponent(jobFile)))
            let relay = ChildRelay(events: events, answers: FileHandle.standardInput)
            let (record, trace, model) = try TrainingRun.perform(job.configuration, observers: [relay], keepingModel: job.keepingModel)
            try model?.write(to: directory.appendingPathComponent(modelFile).path)
            try encoder.encode(Result(record: record, trace: trace)).write(to: directory.appendingPathComponent(resultFile), options: .atomic)
        } catch {
            try encoder.encode(ChildFailure(description: "\(error)", configuration: error as? ConfigurationError)).write(to: directory.appendingPathComponent(failureFile), options: .atomic)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }()
}

/// The child's observer: sends events up, and after each epoch waits for the parent's answer.
final class ChildRelay: TrainingObserver {
    private let events: FileHandle
    private let answers: FileHandle
    private var request: (status: RunStatus, reason: String)?
    private var lastBatch = ContinuousClock.now - .seconds(1)

    init(events: FileHandle, answers: FileHandle) {
        self.events = events
        self.answers = answers
    }

    private func send(_ event: IsolatedRun.Event) {
        guard let line = try? IsolatedRun.encoder.encode(event) else { return }
        try? events.write(contentsOf: line + Data("\n".utf8))
    }

    func batchDidEnd(_ progress: BatchProgress) {
        guard ContinuousClock.now - lastBatch > .milliseconds(100) || progress.batch == progress.batchCount else { return }
        lastBatch = .now
        send(.batch(progress))
    }

    func epochDidEnd(_ record: EpochRecord, stageIndex: Int, stageCount: Int, maxEpochs: Int) {
        send(.epoch(record, stageIndex: stageIndex, stageCount: stageCount, maxEpochs: maxEpochs))
        // The answer is one line; a parent that is gone answers nothing and nothing stops.
        var line = Data()
        while let byte = try? answers.read(upToCount: 1), let first = byte.first, first != UInt8(ascii: "\n") { line.append(first) }
        if let answer = try? IsolatedRun.decoder.decode(IsolatedRun.Answer.self, from: line), let status = answer.status {
            request = (status, answer.reason ?? "stopped by the parent process")
        }
    }

    func windowDidStart() { send(.windowStarted) }
    func windowDidEnd() { send(.windowEnded) }
    func stopRequest() -> (status: RunStatus, reason: String)? { request }
}
