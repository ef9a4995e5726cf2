import Experiments
import Foundation
import Results

/// Worker processes on one study: copies of `bpfree tune` in worker mode.
enum TuneProcesses {
    /// The `bpfree tune` arguments that reproduce `spec`'s study.
    static func arguments(_ spec: StudySpecification, store: String) -> [String] {
        var arguments = ["tune", "--algorithm", spec.algorithm, "--dataset", spec.dataset, "--seed", "\(spec.seed)",
                         "--epochs", "\(spec.stopping.maxEpochs)", "--patience", "\(spec.stopping.patience)",
                         "--min-delta", "\(spec.stopping.minDelta)", "--trials", "\(spec.trials)",
                         "--sampler", spec.sampler.rawValue, "--pruner", spec.pruner.rawValue, "--study", spec.name,
                         "--threads", "\(spec.threads)", "--store", store, "--protocol", spec.trainingProtocol.rawValue,
                         "--objectives", spec.objectives.map(\.rawValue).joined(separator: ","), "--device", spec.device.description,
                         "--gpu-math", spec.gpuMath.name]
        if let architecture = spec.architecture { arguments += ["--architecture", architecture.description] }
        if let limit = spec.trainLimit { arguments += ["--train-limit", "\(limit)"] }
        if let folder = spec.dataDirectory { arguments += ["--data-dir", folder] }
        for (key, value) in spec.options.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
        return arguments
    }

    /// Starts `workers` worker processes of `arguments` and waits for them all.
    static func run(arguments: [String], workers: Int) throws {
        FileHandle.standardError.write(Data("starting \(workers) worker processes\n".utf8))
        // A store URL's password goes to the workers in PGPASSWORD, not on their command lines.
        let (arguments, password) = withoutPassword(arguments)
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["PGPASSWORD"] = password }
        try Interrupts.check()
        var processes: [Process] = []
        for _ in 0..<workers {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: BPFree.executablePath)
            process.arguments = arguments + ["--as-worker"]
            process.environment = environment
            try process.run()
            processes.append(process)
        }
        // A signal to this process reaches the workers too; each gives its trial back.
        let failed = Interrupts.forwarding(to: processes.map(\.processIdentifier)) {
            processes.reduce(0) { failed, process in
                process.waitUntilExit()
                return failed + (process.terminationStatus != 0 ? 1 : 0)
            }
        }
        try Interrupts.check()
        if failed > 0 {
            FileHandle.standardError.write(Data("\(failed) of \(workers) workers exited with an error; run the command again to resume\n".utf8))
        }
    }

    static func run(_ spec: StudySpecification, workers: Int, store: String) throws {
        try run(arguments: arguments(spec, store: store), workers: workers)
    }

    /// Worker arguments with a `--store` URL's password taken out, and the password.
    static func withoutPassword(_ arguments: [String]) -> ([String], String?) {
        var arguments = arguments, password: String?
        for index in arguments.indices where arguments[index].hasPrefix("--store=") || (index > 0 && arguments[index - 1] == "--store") {
            let inline = arguments[index].hasPrefix("--store=")
            let (url, secret) = PostgreSQLDatabase.splitPassword(inline ? String(arguments[index].dropFirst(8)) : arguments[index])
            guard let secret else { continue }
            arguments[index] = inline ? "--store=" + url : url
            password = secret
        }
        return (arguments, password)
    }
}
