import Algorithms
import Datasets
import Experiments
import Foundation
import Records
import Tuning

/// The readers and parsers bpfree runs on input it did not write (downloaded archives, cache
/// files, stores, command lines), each as a function of arbitrary bytes for libFuzzer: a target
/// may reject its input with an error, never crash, hang or touch memory it does not own.
/// `Fuzz` runs them under libFuzzer; the regression tests replay the committed corpus.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A gzip stream, decompressed and read as IDX images and labels (Fashion-MNIST's files).
    case gzipIDX = "gzip-idx"
    /// A tar archive's members read as CIFAR-10 and CIFAR-100 record files.
    case cifarTar = "cifar-tar"
    /// A decoded-dataset cache file.
    case decodedCache = "decoded-cache"
    /// A run record as the store and `--output` keep it (JSON).
    case runRecord = "run-record"
    /// A stored search distribution (Optuna's JSON).
    case storedJSON = "stored-json"
    /// An `--architecture` value.
    case architecture
    /// A `--dataset` value.
    case dataset
    /// `--set key=value` lines, checked against every algorithm's declarations.
    case settings
    /// A saved model (`evaluate --model`): the safetensors file and its metadata.
    case model

    /// Runs the target on one input.
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .gzipIDX:
            let contents = (try? Gzip.decompress(bytes, path: "fuzz.gz")) ?? bytes
            _ = try? IDX.images(from: contents, path: "fuzz")
            _ = try? IDX.labels(from: contents, path: "fuzz", classCount: 10)
        case .cifarTar:
            guard let members = try? Tar.members(of: bytes, path: "fuzz.tar") else { return }
            for cifar in CIFAR.allCases {
                _ = try? cifar.decode(members.map { ($0.name, $0.contents) }, expectedPerFile: nil)
            }
        case .decodedCache:
            let path = Self.scratchFile
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
            if case .loaded(let train, let test) = DecodedCache.load(path) {
                precondition(train.labels.count == train.count && test.labels.count == test.count, "a loaded cache is whole")
            }
        case .runRecord:
            guard let record = try? RunRecord.decoded(from: Data(bytes)) else { return }
            // What was read is written and read back unchanged, compared as sorted-key JSON (NaN is
            // not equal to itself, a dictionary's description has no fixed order) after one round:
            // a number's spelling may settle once (an integral real, 5.5e18, reads back as an integer).
            guard let written = try? record.jsonData(), let again = try? RunRecord.decoded(from: written),
                  let settled = try? again.jsonData(), let third = try? RunRecord.decoded(from: settled) else { return }
            precondition((try? third.jsonData()) == settled, "a record survives a round trip")
        case .storedJSON:
            guard let distribution = SearchDistribution(json: String(decoding: bytes, as: UTF8.self)) else { return }
            precondition(SearchDistribution(json: distribution.json) != nil, "a distribution survives a round trip")
        case .architecture:
            guard let architecture = try? Architecture(parsing: String(decoding: bytes, as: UTF8.self)) else { return }
            precondition((try? Architecture(parsing: architecture.description)) == architecture, "an architecture survives a round trip")
        case .dataset:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = ImageClassificationDataset(rawValue: text)
            _ = try? SyntheticDataset.Specification(parsing: text)
        case .model:
            guard let file = try? SafeTensors(decoding: bytes), let written = try? file.encoded() else { return }
            // What was read is written and read back to the same bytes (NaN scalars included).
            let again = try? SafeTensors(decoding: written).encoded()
            precondition(again == written, "a safetensors file survives a round trip")
            let path = Self.scratchFile
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
            _ = try? SavedModel(contentsOf: path)
        case .settings:
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            guard let options = try? RunConfiguration.options(parsing: lines) else { return }
            for id in AlgorithmRegistry.ids {
                _ = try? AlgorithmRegistry.hyperparameters(for: id, options: options)
            }
        }
    }

    /// A file of this process's own for the targets that read files.
    static let scratchFile = FileManager.default.temporaryDirectory.appendingPathComponent("bpfree-fuzz-\(getpid()).bin").path
}
