import ArgumentParser
import Datasets
import Foundation

/// `bpfree data`: fetch, verify and list the datasets of the study.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Fetch, verify and list the datasets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100).",
        subcommands: [List.self, Verify.self, Fetch.self])

    static func dataset(_ name: String) throws -> ImageClassificationDataset {
        guard let dataset = ImageClassificationDataset(rawValue: name) else {
            throw ValidationError("unknown dataset '\(name)'; valid: \(ImageClassificationDataset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return dataset
    }

    static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each dataset, where it was found, its size and whether it verifies.")

        @Option(help: "Folder to look in first (default search: $BPFREE_DATA, ~/.cache/bpfree, /usr/share/datasets).")
        var dataDir: String?

        func run() throws {
            for dataset in ImageClassificationDataset.allCases {
                guard let folder = try? dataset.locate(dataDirectory: dataDir) else {
                    print("\(dataset.rawValue): not found (bpfree data fetch \(dataset.rawValue))")
                    continue
                }
                let results = try DatasetFiles.of(dataset).verify(folder: folder)
                let size = results.reduce(Int64(0)) { $0 + Downloader.size(of: folder + "/" + $1.file.name) }
                let verified = results.allSatisfy { DatasetFiles.isVerified($0.status) }
                print("\(dataset.rawValue): \(folder), \(DataCommand.megabytes(size)), \(verified ? "verified" : "does not verify")")
                for (file, status) in results where status != .verified { print("  \(file.name): \(status)") }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-check a dataset's files against their published checksums.")

        @Argument(help: "mnist, fashion-mnist, cifar10 or cifar100")
        var name: String

        @Option(help: "Folder that holds the files (default: the search path).")
        var dataDir: String?

        func run() throws {
            let dataset = try DataCommand.dataset(name)
            let folder = try dataset.locate(dataDirectory: dataDir)
            var good = true
            for (file, status) in try DatasetFiles.of(dataset).verify(folder: folder) {
                print("\(folder)/\(file.name): \(status)")
                good = good && DatasetFiles.isVerified(status)
            }
            if !good { throw ExitCode(1) }
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a dataset's official files (resuming, trying mirrors), verify them, then move them into place.")

        @Argument(help: "mnist, fashion-mnist, cifar10 or cifar100")
        var name: String

        @Option(help: "Data folder (default: $BPFREE_DATA, else ~/.cache/bpfree); files go to its <dataset> sub-folder.")
        var dataDir: String?

        func run() throws {
            let dataset = try DataCommand.dataset(name)
            guard let root = ImageClassificationDataset.fetchRoot(dataDirectory: dataDir) else {
                throw ValidationError("--data-dir: no data folder (set --data-dir, BPFREE_DATA or HOME)")
            }
            let folder = root + "/" + dataset.rawValue
            let live = isatty(STDERR_FILENO) == 1
            var lastShown = Date.distantPast
            let downloader = Downloader { file, bytes, total in
                guard live, Date().timeIntervalSince(lastShown) > 0.1 || bytes == total else { return }
                lastShown = Date()
                let share = total.map { String(format: " (%.0f%%)", 100 * Double(bytes) / Double(max($0, 1))) } ?? ""
                let text = "\r\u{1B}[K\(file): \(DataCommand.megabytes(bytes))\(total.map { " / " + DataCommand.megabytes($0) } ?? "")\(share)"
                FileHandle.standardError.write(Data(text.utf8))
            }
            let report = try downloader.fetch(DatasetFiles.of(dataset), into: folder)
            if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            for line in report { print("\(folder)/\(line)") }
        }
    }
}
