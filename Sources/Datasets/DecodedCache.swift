import Foundation
import TensorCore

/// A decoded, normalised copy of a dataset's training pool and test set as one Float32 file, so
/// later runs skip gzip and tar decoding. Keyed by the source files' paths, sizes and
/// modification times (a changed source gets a new key); written atomically.
enum DecodedCache {
    static let magic = Array("BPFDC001".utf8)

    /// Where decoded copies live: the user cache folder (`$XDG_CACHE_HOME/bpfree/decoded` or
    /// `~/.cache/bpfree/decoded`, never a system data folder such as /usr/share/datasets), else a
    /// `.bpfree-decoded` folder next to the data when that is writable.
    static func folder(nextTo dataFolder: String) -> String? {
        if let cache = ImageClassificationDataset.userCacheFolder() { return cache + "/decoded" }
        return FileManager.default.isWritableFile(atPath: dataFolder) ? dataFolder + "/.bpfree-decoded" : nil
    }

    /// The cache file for `sources` (nil when the sources cannot be stat'ed).
    static func path(for dataset: String, sources: [String], dataFolder: String) -> String? {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for source in sources {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: source) else { return nil }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            for byte in "\(source)|\(size)|\(modified);".utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        return folder(nextTo: dataFolder).map { $0 + "/\(dataset)-\(String(hash, radix: 16)).f32" }
    }

    /// Reads a cached pair straight into tensor memory, or nil when absent or unreadable (the
    /// caller then decodes the source).
    static func load(_ path: String) -> (train: Dataset, test: Dataset)? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        func readExactly(_ pointer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
            var done = 0
            while done < count {
                let n = read(descriptor, pointer + done, count - done)
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        func integer() -> Int? {
            var value: Int64 = 0
            return readExactly(&value, 8) ? Int(value) : nil
        }
        var header = [UInt8](repeating: 0, count: 8)
        guard readExactly(&header, 8), header == magic, let classCount = integer(), let rank = integer(),
              (1...4).contains(rank) else { return nil }
        var shape: [Int] = []
        for _ in 0..<rank { guard let extent = integer(), extent > 0 else { return nil }; shape.append(extent) }
        let features = shape.reduce(1, *)
        func dataset() -> Dataset? {
            guard let count = integer(), count >= 0, count < 100_000_000 else { return nil }
            var labels = [Int32](repeating: 0, count: count)
            guard labels.withUnsafeMutableBytes({ readExactly($0.baseAddress!, 4 * count) }) else { return nil }
            var inputs = Tensor(uninitialized: [count, features])
            guard inputs.withUnsafeMutablePointer({ readExactly($0, 4 * count * features) }) else { return nil }
            guard labels.allSatisfy({ $0 >= 0 && Int($0) < classCount }) else { return nil }
            return Dataset(inputs: inputs, labels: labels, sampleShape: shape, classCount: classCount)
        }
        guard let train = dataset(), let test = dataset() else { return nil }
        return (train, test)
    }

    /// Writes the pair atomically; failures are ignored (the cache is only an optimisation).
    static func store(_ train: Dataset, _ test: Dataset, to path: String) {
        var data = Data(magic)
        func integer(_ value: Int) { withUnsafeBytes(of: Int64(value)) { data.append(contentsOf: $0) } }
        integer(train.classCount)
        integer(train.sampleShape.count)
        train.sampleShape.forEach(integer)
        for dataset in [train, test] {
            integer(dataset.count)
            dataset.labels.withUnsafeBytes { data.append(contentsOf: $0) }
            dataset.inputs.withUnsafePointer { data.append(UnsafeBufferPointer(start: $0, count: dataset.inputs.count)) }
        }
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
