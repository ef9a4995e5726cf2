import Foundation

/// The official files of each dataset: names, their publishers' MD5 checksums (as listed in
/// torchvision's dataset definitions and on the CIFAR page) and the public mirrors, in order.
public struct DatasetFiles: Sendable {
    public struct File: Sendable {
        public let name: String
        /// MD5 of the file as its publishers distribute it.
        public let md5: String
        /// MD5 of the decompressed contents, for copies whose gzip bytes differ (recompressed).
        public let contentMD5: String?

        public init(name: String, md5: String, contentMD5: String? = nil) {
            self.name = name
            self.md5 = md5
            self.contentMD5 = contentMD5
        }
    }

    public let dataset: ImageClassificationDataset
    public let files: [File]
    public let mirrors: [String]

    /// An entry (tests build their own).
    public init(dataset: ImageClassificationDataset, files: [File], mirrors: [String]) {
        self.dataset = dataset
        self.files = files
        self.mirrors = mirrors
    }

    /// The catalog entry of `dataset`.
    public static func of(_ dataset: ImageClassificationDataset) -> DatasetFiles {
        switch dataset {
        case .mnist:
            DatasetFiles(dataset: dataset, files: [
                .init(name: "train-images-idx3-ubyte.gz", md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                .init(name: "train-labels-idx1-ubyte.gz", md5: "d53e105ee54ea40749a09fcbcd1e9432"),
                .init(name: "t10k-images-idx3-ubyte.gz", md5: "9fb629c4189551a2d022fa330f9573f3"),
                .init(name: "t10k-labels-idx1-ubyte.gz", md5: "ec29112dd5afa0611ce80d1b7f02629c"),
            ], mirrors: ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"])
        case .fashionMNIST:
            // NOTE: Debian's dataset-fashion-mnist recompresses the files, so their gzip bytes
            // differ from the published ones; the content checksums (of the decompressed IDX
            // data, taken from that package) verify such copies.
            DatasetFiles(dataset: dataset, files: [
                .init(name: "train-images-idx3-ubyte.gz", md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d", contentMD5: "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
                .init(name: "train-labels-idx1-ubyte.gz", md5: "25c81989df183df01b3e8a0aad5dffbe", contentMD5: "9018921c3c673c538a1fc5bad174d6f9"),
                .init(name: "t10k-images-idx3-ubyte.gz", md5: "bef4ecab320f06d8554ea6380940ec79", contentMD5: "8181f5470baa50b63fa0f6fddb340f0a"),
                .init(name: "t10k-labels-idx1-ubyte.gz", md5: "bb300cfdad3c16e7a12a480ee83cd310", contentMD5: "15d484375f8d13e6eb1aabb0c3f46965"),
            ], mirrors: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"])
        case .cifar10:
            DatasetFiles(dataset: dataset, files: [File(name: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530")],
                         mirrors: ["https://www.cs.toronto.edu/~kriz/"])
        case .cifar100:
            DatasetFiles(dataset: dataset, files: [File(name: "cifar-100-binary.tar.gz", md5: "03b5dce01913d631647c71ecec9e9cb8")],
                         mirrors: ["https://www.cs.toronto.edu/~kriz/"])
        }
    }

    /// How a file on disk compares with the published one.
    public enum Status: Equatable, Sendable, CustomStringConvertible {
        case verified
        /// The gzip bytes differ but the decompressed contents match.
        case verifiedContents
        case missing
        /// Present but not the published bytes (e.g. Debian recompresses Fashion-MNIST's gzip files).
        case checksumMismatch(actual: String)

        public var description: String {
            switch self {
            case .verified: "verified"
            case .verifiedContents: "verified (decompressed contents; recompressed gzip)"
            case .missing: "missing"
            case .checksumMismatch(let actual): "MD5 \(actual) differs from the published checksum"
            }
        }
    }

    /// The MD5 of a file, read in 4 MiB chunks.
    public static func md5(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DatasetError(path: path, problem: "cannot be read") }
        defer { try? handle.close() }
        var md5 = MD5()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { md5.update(chunk) }
        return md5.finalize()
    }

    /// Whether a status counts as verified.
    public static func isVerified(_ status: Status) -> Bool { status == .verified || status == .verifiedContents }

    /// The status of each file in `folder`.
    public func verify(folder: String) throws -> [(file: File, status: Status)] {
        try files.map { file in
            let path = folder + "/" + file.name
            guard FileManager.default.fileExists(atPath: path) else { return (file, .missing) }
            let actual = try Self.md5(ofFile: path)
            if actual == file.md5 { return (file, .verified) }
            if let contentMD5 = file.contentMD5, path.hasSuffix(".gz"), MD5.hex(try IDX.contents(of: path)) == contentMD5 {
                return (file, .verifiedContents)
            }
            return (file, .checksumMismatch(actual: actual))
        }
    }
}
