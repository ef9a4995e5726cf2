import ArgumentParser
import Experiments
import Foundation
import Results
import Tuning

/// Where a study's workers run.
enum Launcher: String, ExpressibleByArgument, CaseIterable {
    /// Worker processes on this machine.
    case local
    /// One SLURM job array: each task is an ordinary `bpfree tune` worker on the shared store.
    case slurm
}

/// The launcher flags of `tune` and `bench`.
struct LauncherOptions: ParsableArguments {
    @Option(help: "Where the workers run: local (processes on this machine) or slurm (one job array per study).")
    var launcher: Launcher = .local

    @Option(help: "SLURM partition (default: the cluster's).")
    var partition: String?

    @Option(help: ArgumentHelp("SLURM time limit of each array task.", valueName: "[days-]hours:minutes:seconds"))
    var time: String?

    @Option(help: "CPUs per array task (default: the threads of each run).")
    var cpusPerTask: Int?

    @Option(help: "Array tasks, i.e. SLURM workers (default: --workers).")
    var arraySize: Int?

    @Option(help: ArgumentHelp("An extra #SBATCH line (repeatable), e.g. --sbatch=--mem=8G.", valueName: "option"))
    var sbatch: [String] = []

    @Option(help: "Folder for the job scripts and the tasks' output (--launcher slurm).")
    var slurmDir = "bpfree-slurm"

    @Flag(help: "With --launcher slurm: print the job script instead of submitting it.")
    var dryRun = false

    /// Checks the SLURM settings; the error names the flag.
    func validate(workers: Int, threads: Int) throws {
        if launcher == .local {
            // Local workers share this machine; SLURM tasks are checked on the node they run on.
            try RunConfiguration.checkThreadsFitThisMachine(threads)
            let cpus = ProcessInfo.processInfo.activeProcessorCount
            guard workers <= 4 * cpus else {
                throw ValidationError("--workers: at most 4 per logical CPU of this machine (\(4 * cpus)), got \(workers)")
            }
        }
        if let cpusPerTask, cpusPerTask < 1 { throw ValidationError("--cpus-per-task: must be at least 1, got \(cpusPerTask)") }
        if let arraySize, arraySize < 1 { throw ValidationError("--array-size: must be at least 1, got \(arraySize)") }
        if launcher == .local, dryRun || arraySize != nil || partition != nil || !sbatch.isEmpty {
            throw ValidationError("--dry-run, --array-size, --partition and --sbatch need --launcher slurm")
        }
        // Each value becomes part of one #SBATCH line: a line break would start a line of its own.
        let values = [("--partition", partition), ("--time", time), ("--slurm-dir", slurmDir)] + sbatch.map { ("--sbatch", $0) }
        for case let (flag, value?) in values where value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError("\(flag): \(value.debugDescription) contains a line break or another control character")
        }
        if let partition, partition.isEmpty || !partition.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.,".contains($0)) }) {
            throw ValidationError("--partition: \(partition.debugDescription) is not a SLURM partition name (letters, digits, _ - . and commas)")
        }
        if let time, time.wholeMatch(of: Self.slurmTime) == nil {
            throw ValidationError("--time: \(time.debugDescription) is not a SLURM time limit (minutes, minutes:seconds, hours:minutes:seconds, "
                                  + "days-hours, days-hours:minutes, days-hours:minutes:seconds, or UNLIMITED)")
        }
    }

    /// The time limits sbatch accepts (`man sbatch`, --time).
    nonisolated(unsafe) static let slurmTime = #/(\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|UNLIMITED|INFINITE)/#
}

/// Runs a study's workers as one SLURM job array and follows the study in the store until the
/// array has ended: the tasks are ordinary `bpfree tune --as-worker` processes.
struct SlurmLauncher {
    let options: LauncherOptions
    /// Array tasks to start.
    let tasks: Int
    /// BLAS threads of each run (the default CPUs per task).
    let threads: Int

    /// The job script for a worker command line (the store's password is not in it: it reaches
    /// the tasks in PGPASSWORD, which sbatch passes on with the rest of the environment).
    func script(study: String, workerArguments: [String], folder: String) -> String {
        // #SBATCH lines are read by sbatch, not by a shell: names go in sanitised, not quoted.
        var lines = ["#!/bin/bash", "#SBATCH --job-name=bpfree-\(Self.fileName(study))",
                     "#SBATCH --array=0-\(tasks - 1)", "#SBATCH --cpus-per-task=\(options.cpusPerTask ?? threads)",
                     "#SBATCH --output=\(folder)/task-%A_%a.out"]
        if let partition = options.partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time = options.time { lines.append("#SBATCH --time=\(time)") }
        lines += options.sbatch.map { "#SBATCH \($0)" }
        lines.append("# One ordinary bpfree worker per array task, all on the same study in the store.")
        lines.append("exec " + ([BPFree.executablePath] + workerArguments + ["--as-worker"]).map(Self.quoted).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes the script, submits it, reports progress from the store until the array has
    /// ended, and returns whether the study finished its budget. On SIGINT or SIGTERM it
    /// cancels the array (its running tasks give their trials back), waits for it to end and
    /// throws `Interrupted`.
    func run(study stored: StoredStudy, store: ResultsStore, workerArguments: [String]) throws -> Bool {
        let (arguments, password) = TuneProcesses.withoutPassword(Self.workerArguments(from: workerArguments))
        let stamp = Int(Date().timeIntervalSince1970)
        let folder = URL(fileURLWithPath: options.slurmDir).appendingPathComponent("\(Self.fileName(stored.name))-\(stamp)").path
        let text = script(study: stored.name, workerArguments: arguments, folder: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/job.sh"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["PGPASSWORD"] = password }
        let submitted = try Self.command("sbatch", ["--parsable", path], environment: environment)
        guard let job = submitted.split(separator: ";").first.map(String.init), !job.isEmpty else {
            throw RuntimeFailure("--launcher slurm: sbatch gave no job id (\(submitted))")
        }
        FileHandle.standardError.write(Data("submitted SLURM job array \(job) (\(tasks) tasks): \(path)\n".utf8))
        var last = "", cancelled = false
        while true {
            if !cancelled, Interrupts.requested != nil {
                // The tasks give their trials back on SIGTERM; tasks not yet started are dropped.
                FileHandle.standardError.write(Data("cancelling SLURM job array \(job)\n".utf8))
                _ = try? Self.command("scancel", ["--state=PENDING", job], environment: environment)
                _ = try? Self.command("scancel", ["--signal=TERM", "--full", job], environment: environment)
                cancelled = true
            }
            let running = (try? Self.command("squeue", ["-h", "-j", job, "-o", "%i"], environment: environment))?
                .split(separator: "\n").count ?? 0
            let trials = try store.trials(ofStudy: stored.id!)
            let line = "job \(job): \(running) tasks queued or running; trials: \(trials.isEmpty ? "none yet" : trials.stateCounts)"
            if line != last { FileHandle.standardError.write(Data((line + "\n").utf8)); last = line }
            if running == 0 { break }
            Thread.sleep(forTimeInterval: 2)
        }
        try Interrupts.check()
        let trials = try store.trials(ofStudy: stored.id!)
        let finished = trials.countedTowardsBudget.filter(\.state.isFinished).count
        let open = trials.contains { $0.state == .running || $0.state == .waiting }
        return finished >= (try store.study(named: stored.name)?.trialBudget ?? stored.trialBudget) && !open
    }

    /// Runs a SLURM command; its standard output, or an error naming it.
    static func command(_ name: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { throw RuntimeFailure("--launcher slurm: cannot run \(name): \(error.localizedDescription)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RuntimeFailure("--launcher slurm: \(name) failed (status \(process.terminationStatus)): "
                                  + message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A `tune` command line without the launcher's own flags and without `--workers`: what
    /// each array task runs.
    static func workerArguments(from arguments: [String]) -> [String] {
        let valued: Set = ["--launcher", "--partition", "--time", "--cpus-per-task", "--array-size", "--sbatch", "--slurm-dir", "--workers"]
        var result: [String] = [], skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if valued.contains(argument) { skipNext = true; continue }
            if argument == "--dry-run" || valued.contains(where: { argument.hasPrefix($0 + "=") }) { continue }
            result.append(argument)
        }
        return result
    }

    /// A shell word: single-quoted unless it is plainly safe.
    static func quoted(_ word: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,%@+")
        if !word.isEmpty, word.unicodeScalars.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A study name as a file name (anything but letters, digits, '-', '_' and '.' becomes '_').
    static func fileName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }.prefix(80))
    }
}
