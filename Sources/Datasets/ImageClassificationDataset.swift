import Foundation
import TensorCore

/// The image datasets bpfree knows, with their files, normalisation and split rule
/// (protocol §2).
public enum ImageClassificationDataset: String, CaseIterable, Sendable {
    case mnist = "mnist"
    case fashionMNIST = "fashion-mnist"
    case cifar10 = "cifar10"
    case cifar100 = "cifar100"

    /// The CIFAR variant, for the CIFAR datasets.
    var cifar: CIFAR? {
        switch self {
        case .cifar10: .cifar10
        case .cifar100: .cifar100
        default: nil
        }
    }

    /// The gzip'd IDX files: training images and labels, test images and labels.
    public var files: (trainImages: String, trainLabels: String, testImages: String, testLabels: String) {
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    }

    /// Mean and standard deviation on [0, 1] pixels of the single-channel datasets.
    public var normalization: (mean: Float, std: Float) {
        switch self {
        case .mnist: (0.1307, 0.3081)
        case .fashionMNIST: (0.2860, 0.3530)
        case .cifar10, .cifar100: (cifar!.normalization.mean[0], cifar!.normalization.std[0])
        }
    }

    /// Per-channel mean and standard deviation on [0, 1] pixels: `x = (pixel/255 − mean)/std`.
    public var channelNormalization: (mean: [Float], std: [Float]) {
        cifar?.normalization ?? ([normalization.mean], [normalization.std])
    }

    /// Folder names under a data root where the files may live.
    var folderNames: [String] {
        switch self {
        case .mnist: ["mnist"]
        case .fashionMNIST: ["fashion-mnist", "fashion_mnist", "FashionMNIST"]
        case .cifar10: ["cifar10", "cifar-10"]
        case .cifar100: ["cifar100", "cifar-100"]
        }
    }

    /// Files whose presence marks a folder as holding this dataset.
    var markers: [String] {
        if let cifar { return [cifar.archiveName, cifar.folderName + "/" + cifar.testFile] }
        return [files.trainImages]
    }

    /// The number of classes.
    public var classCount: Int { cifar?.classCount ?? 10 }

    /// The user's bpfree cache folder: `$XDG_CACHE_HOME/bpfree` or `~/.cache/bpfree`.
    public static func userCacheFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        environment["XDG_CACHE_HOME"].map { $0 + "/bpfree" } ?? environment["HOME"].map { $0 + "/.cache/bpfree" }
    }

    /// Where `bpfree data fetch` puts downloads: `--data-dir`, `$BPFREE_DATA`, else the user cache.
    public static func fetchRoot(dataDirectory: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        dataDirectory ?? environment["BPFREE_DATA"].flatMap { $0.isEmpty ? nil : $0 } ?? userCacheFolder(environment: environment)
    }

    /// Data roots searched in order: `--data-dir`, `$BPFREE_DATA`, the user cache folder,
    /// then `/usr/share/datasets` (Debian's `dataset-fashion-mnist`).
    public static func searchRoots(dataDirectory: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        if let dataDirectory { return [dataDirectory] }
        var roots: [String] = []
        if let fromEnvironment = environment["BPFREE_DATA"], !fromEnvironment.isEmpty { roots.append(fromEnvironment) }
        if let cache = userCacheFolder(environment: environment) { roots.append(cache) }
        roots.append("/usr/share/datasets")
        return roots
    }

    /// The folder that holds this dataset's files: a root itself or one of its sub-folders.
    public func locate(dataDirectory: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let roots = Self.searchRoots(dataDirectory: dataDirectory, environment: environment)
        let fm = FileManager.default
        for root in roots {
            for folder in [root] + folderNames.map({ root + "/" + $0 }) {
                if markers.contains(where: { fm.fileExists(atPath: folder + "/" + $0) }) { return folder }
            }
        }
        if let dataDirectory {
            throw DatasetError(path: dataDirectory, problem: "no \(rawValue) files (\(markers[0]), …) in this folder or in \(folderNames.map { "\($0)/" }.joined(separator: ", ")); `bpfree data fetch \(rawValue)` downloads them")
        }
        let hint = self == .fashionMNIST
            ? "; install Debian's dataset-fashion-mnist, run `bpfree data fetch fashion-mnist` or pass --data-dir"
            : "; run `bpfree data fetch \(rawValue)` or pass --data-dir"
        throw DatasetError(path: roots.joined(separator: ":"), problem: "\(rawValue) not found in any data folder\(hint)")
    }

    /// Loads and normalises the official files and makes the protocol's splits.
    ///
    /// MNIST: training images 0–49,999 / validation 50,000–59,999. Fashion-MNIST: a random 10%
    /// of the training images (seeded by `seed`) for validation. Both: the official test set.
    public func load(dataDirectory: String?, seed: UInt64) throws -> DataSplits {
        let folder = try locate(dataDirectory: dataDirectory)
        let (trainAll, test) = try decoded(folder: folder)
        let (trainIndices, validationIndices) = splitIndices(count: trainAll.count, seed: seed)
        var train = trainAll.subset(trainIndices)
        if cifar != nil { train.augmentation = .cropAndFlip }
        return DataSplits(train: train, validation: trainAll.subset(validationIndices), test: test)
    }

    /// The training pool and test set, from the decoded cache when it matches the sources.
    func decoded(folder: String) throws -> (train: Dataset, test: Dataset) {
        let fm = FileManager.default
        let sources = cifar.map { cifar in
            fm.fileExists(atPath: folder + "/" + cifar.archiveName)
                ? [folder + "/" + cifar.archiveName]
                : (cifar.trainFiles + [cifar.testFile]).map { folder + "/" + cifar.folderName + "/" + $0 }
        } ?? [files.trainImages, files.trainLabels, files.testImages, files.testLabels].map { folder + "/" + $0 }
        let cachePath = DecodedCache.path(for: rawValue, sources: sources, dataFolder: folder)
        if let cachePath {
            switch DecodedCache.load(cachePath) {
            case .loaded(let train, let test): return (train, test)
            case .missing: break
            case .damaged(let reason):
                FileHandle.standardError.write(Data("bpfree: the decoded cache \(cachePath) is damaged (\(reason)); decoding \(rawValue) from its sources again\n".utf8))
            }
        }
        let pair: (train: Dataset, test: Dataset)
        if let cifar {
            pair = try cifar.load(folder: folder)
        } else {
            pair = (try loadPair(images: folder + "/" + files.trainImages, labels: folder + "/" + files.trainLabels),
                    try loadPair(images: folder + "/" + files.testImages, labels: folder + "/" + files.testLabels))
        }
        if let cachePath { DecodedCache.store(pair.train, pair.test, to: cachePath) }
        return pair
    }

    /// Training and validation indices of the protocol's split for `count` training images.
    public func splitIndices(count: Int, seed: UInt64) -> (train: [Int], validation: [Int]) {
        switch self {
        case .mnist:
            let cut = count * 5 / 6  // 50,000 of 60,000
            return (Array(0..<cut), Array(cut..<count))
        case .fashionMNIST, .cifar10, .cifar100:
            var generator = SeededGenerator(seed: seed, stream: "validation-split")
            var permutation = Array(0..<count)
            generator.shuffle(&permutation)
            let validationCount = count / 10
            return (Array(permutation[validationCount...]).sorted(), Array(permutation[..<validationCount]).sorted())
        }
    }

    /// Reads one image file and its label file into a normalised dataset.
    public func loadPair(images imagePath: String, labels labelPath: String) throws -> Dataset {
        let images = try IDX.images(from: IDX.contents(of: imagePath), path: imagePath)
        let labels = try IDX.labels(from: IDX.contents(of: labelPath), path: labelPath, classCount: classCount)
        guard images.count == labels.count else {
            throw DatasetError(path: labelPath, problem: "\(labels.count) labels for \(images.count) images in \(imagePath)")
        }
        let d = images.rows * images.columns
        var inputs = Tensor(uninitialized: [images.count, d])
        let (mean, std) = normalization
        let scale = 1 / (255 * std), shift = -mean / std
        images.pixels.withUnsafeBufferPointer { pixels in
            inputs.withUnsafeMutablePointer { out in
                for i in 0..<(images.count * d) { out[i] = Float(pixels[i]) * scale + shift }
            }
        }
        return Dataset(inputs: inputs, labels: labels, sampleShape: [1, images.rows, images.columns], classCount: classCount)
    }
}
