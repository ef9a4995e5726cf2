import ArgumentParser
import Experiments

/// `bpfree run-child FOLDER`: one trial or final run in a process of its own, for the tune or
/// bench process that started it (IsolatedRun); not for people to call.
struct RunChild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-child", abstract: "Run the training job in FOLDER for the process that made it (internal).",
        shouldDisplay: false)

    @Argument(help: "The job's private folder.")
    var folder: String

    func run() throws { try IsolatedRun.serve(folder: folder) }
}
