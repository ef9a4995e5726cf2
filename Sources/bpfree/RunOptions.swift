import Algorithms
import ArgumentParser
import CUDA
import Experiments
import FileSystem
import Foundation
import Records
import TensorCore
import Training

extension TrainingProtocol: ExpressibleByArgument {}

extension Device: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension CUBLAS.Math: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "fp32": self = .fp32
        case "tf32": self = .tf32
        default: return nil
        }
    }
    public static var allValueStrings: [String] { ["fp32", "tf32"] }
    public var defaultValueDescription: String { name }
}

/// The flags that say what to train, shared by `train` and `tune`.
struct RunOptions: ParsableArguments {
    @Option(help: "Learning algorithm: \(AlgorithmRegistry.ids.joined(separator: ", ")).")
    var algorithm = "bp"

    @Option(help: "Network: \(Architecture.presets.joined(separator: ", ")), mlp-AxB, mlp:W1,W2,... or cnn:C1,C2,... (default: the algorithm's: \(AlgorithmsCommand.defaultArchitectures)).")
    var architecture: String?

    @Option(help: "Dataset: \(RunConfiguration.datasets.joined(separator: ", ")).")
    var dataset = "fashion-mnist"

    @Option(help: "Folder with the dataset files (default: $BPFREE_DATA, ~/.cache/bpfree, /usr/share/datasets).")
    var dataDir: String?

    @Option(help: "Seed of weights, validation split and shuffling.")
    var seed: UInt64 = 1

    @Option(help: "Epoch cap per stage.")
    var epochs = StoppingRule.harmonized.maxEpochs

    @Option(name: .customLong("protocol"), help: "Stopping rules: harmonized (every unit alike, protocol §3) or seed-paper (the original study's per-algorithm rules, only to reproduce its numbers).")
    var trainingProtocol: TrainingProtocol = .harmonized

    @Option(help: "Epochs without a validation-loss improvement before stopping.")
    var patience = StoppingRule.harmonized.patience

    @Option(help: "Smallest validation-loss decrease that counts as an improvement.")
    var minDelta = StoppingRule.harmonized.minDelta

    @Option(name: .customLong("set"), help: ArgumentHelp("Set an algorithm option, e.g. ff.normalization=l2 (repeatable; an unknown one lists the valid ones).", valueName: "key=value"))
    var settings: [String] = []

    @Option(help: "Use only the first N training samples (for quick runs).")
    var trainLimit: Int?

    @Option(help: "BLAS and kernel threads, recorded with the run (default: the number of cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("Where to compute: cpu, cuda (the first GPU) or cuda:N.", valueName: "device"))
    var device: Device = .cpu

    @Option(help: ArgumentHelp("cuBLAS's and cuDNN's math on a GPU: fp32, or tf32 (tensor cores, recorded with the run).", valueName: "math"))
    var gpuMath: CUBLAS.Math = .fp32

    @OptionGroup var storeOption: StoreOption

    func parsedArchitecture() throws -> Architecture? { try architecture.map(Architecture.init(parsing:)) }

    var stopping: StoppingRule { StoppingRule(patience: patience, minDelta: minDelta, maxEpochs: epochs) }

    /// The `--set key=value` options as a dictionary; the error names a malformed one.
    func parsedSettings() throws -> [String: String] { try RunConfiguration.options(parsing: settings) }
}

/// Refuses an output file whose folder is missing or not writable, or that exists and is not a
/// regular file, before any work is done (a typo in `--output` must not cost a whole run, and
/// the atomic rename must not replace `/dev/null` or a FIFO); the error names the flag and the path.
func checkWritableFile(_ path: String, flag: String) throws {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        throw ValidationError("\(flag): \(path) is a folder, not a file")
    }
    if let name = path.split(separator: "/").last, name.utf8.count > 255 {
        throw ValidationError("\(flag): the file name is \(name.utf8.count) bytes long; file systems allow at most 255")
    }
    var status = stat()
    if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
        throw ValidationError("\(flag): \(path) is not a regular file (a device, FIFO or socket); bpfree replaces the file it writes")
    }
    let folder = PathComponents.folder(of: path)
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
        throw ValidationError("\(flag): the folder of \(path) does not exist")
    }
    guard isFolder.boolValue, access(folder, W_OK) == 0 else { throw ValidationError("\(flag): the folder of \(path) is not writable") }
}

/// Refuses an output folder that cannot be made: its nearest existing ancestor must be a
/// writable folder (the folders in between are created when the output is written).
func checkWritableFolder(_ folder: String, flag: String) throws {
    var ancestor = folder.isEmpty ? "." : folder
    while !FileManager.default.fileExists(atPath: ancestor) {
        ancestor = PathComponents.folder(of: ancestor)
    }
    var isFolder: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: ancestor, isDirectory: &isFolder)
    guard isFolder.boolValue else { throw ValidationError("\(flag): \(ancestor) is a file, not a folder, so \(folder) cannot be made") }
    guard access(ancestor, W_OK) == 0 else { throw ValidationError("\(flag): \(ancestor) is not writable, so \(folder) cannot be written") }
}
