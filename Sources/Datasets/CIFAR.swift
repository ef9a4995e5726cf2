import Foundation
import TensorCore

/// CIFAR-10 and CIFAR-100 from the official "binary version" archives (or their extracted
/// folders): records of label byte(s) then 3072 channel-major pixels.
public enum CIFAR: String, CaseIterable, Sendable {
    case cifar10 = "cifar10"
    case cifar100 = "cifar100"

    /// The archive as published.
    public var archiveName: String { self == .cifar10 ? "cifar-10-binary.tar.gz" : "cifar-100-binary.tar.gz" }
    /// The folder inside the archive.
    public var folderName: String { self == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary" }
    /// Training member files, in order.
    public var trainFiles: [String] { self == .cifar10 ? (1...5).map { "data_batch_\($0).bin" } : ["train.bin"] }
    /// The test member file.
    public var testFile: String { self == .cifar10 ? "test_batch.bin" : "test.bin" }
    /// Label bytes per record (CIFAR-100: coarse then fine; the fine label is the class).
    var labelBytes: Int { self == .cifar10 ? 1 : 2 }
    public var classCount: Int { self == .cifar10 ? 10 : 100 }
    /// Records per training file and in the test file.
    var recordsPerTrainFile: Int { self == .cifar10 ? 10_000 : 50_000 }

    /// Per-channel mean and standard deviation on [0, 1] pixels (protocol §2).
    public var normalization: (mean: [Float], std: [Float]) {
        switch self {
        case .cifar10: ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])
        case .cifar100: ([0.5071, 0.4867, 0.4408], [0.2675, 0.2565, 0.2761])
        }
    }

    /// Reads the member files from `folder`: the archive if present, else the extracted folder.
    /// Returns the training pool and the test set, normalised.
    /// The record counts are the official ones unless given (tests use small files).
    public func load(folder: String, trainRecordsPerFile: Int? = nil, testRecords: Int = 10_000) throws -> (train: Dataset, test: Dataset) {
        let fm = FileManager.default
        var files: [String: ArraySlice<UInt8>] = [:]
        let archivePath = folder + "/" + archiveName
        if fm.fileExists(atPath: archivePath) {
            let archive = try IDX.contents(of: archivePath)
            for member in try Tar.members(of: archive, path: archivePath) {
                let name = member.name.split(separator: "/").last.map(String.init) ?? member.name
                files[name] = member.contents
            }
            for name in trainFiles + [testFile] where files[name] == nil {
                throw DatasetError(path: archivePath, problem: "tar member \(folderName)/\(name) is missing")
            }
        } else {
            for name in trainFiles + [testFile] {
                let path = [folder + "/" + folderName + "/" + name, folder + "/" + name].first { fm.fileExists(atPath: $0) }
                guard let path, let data = fm.contents(atPath: path) else {
                    throw DatasetError(path: folder, problem: "neither \(archiveName) nor \(folderName)/\(name) found")
                }
                files[name] = ArraySlice([UInt8](data))
            }
        }
        let source = fm.fileExists(atPath: archivePath) ? archivePath + ":" : folder + "/"
        let train = try decode(trainFiles.map { (source + $0, files[$0]!) }, expectedPerFile: trainRecordsPerFile ?? recordsPerTrainFile)
        let test = try decode([(source + testFile, files[testFile]!)], expectedPerFile: testRecords)
        return (train, test)
    }

    /// Decodes records into a normalised dataset; each file must hold `expectedPerFile` records.
    public func decode(_ files: [(name: String, bytes: ArraySlice<UInt8>)], expectedPerFile: Int?) throws -> Dataset {
        let recordSize = labelBytes + 3072
        var total = 0
        for (name, bytes) in files {
            guard bytes.count % recordSize == 0 else {
                throw DatasetError(path: name, problem: "\(bytes.count) bytes is not a multiple of the \(recordSize)-byte record")
            }
            if let expectedPerFile, bytes.count != expectedPerFile * recordSize {
                throw DatasetError(path: name, problem: "expected \(expectedPerFile) records (\(expectedPerFile * recordSize) bytes), found \(bytes.count / recordSize)")
            }
            total += bytes.count / recordSize
        }
        var inputs = Tensor(uninitialized: [total, 3072])
        var labels = [Int32](repeating: 0, count: total)
        let (mean, std) = normalization
        var row = 0
        try inputs.withUnsafeMutablePointer { out in
            for (name, bytes) in files {
                try bytes.withUnsafeBufferPointer { raw in
                    for record in 0..<(raw.count / recordSize) {
                        let base = record * recordSize
                        let label = Int(raw[base + labelBytes - 1])
                        guard label < classCount else {
                            throw DatasetError(path: name, problem: "label \(label) of record \(record) is outside 0...\(classCount - 1)")
                        }
                        labels[row] = Int32(label)
                        let destination = out + row * 3072
                        for channel in 0..<3 {
                            let scale = 1 / (255 * std[channel]), shift = -mean[channel] / std[channel]
                            for i in 0..<1024 {
                                destination[channel * 1024 + i] = Float(raw[base + labelBytes + channel * 1024 + i]) * scale + shift
                            }
                        }
                        row += 1
                    }
                }
            }
        }
        return Dataset(inputs: inputs, labels: labels, sampleShape: [3, 32, 32], classCount: classCount)
    }
}
