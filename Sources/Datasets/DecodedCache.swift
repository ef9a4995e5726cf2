import FileSystem
import Foundation
import TensorCore

/// A decoded, normalised copy of a dataset's training pool and test set as one Float32 file, so
/// later runs skip gzip and tar decoding. Keyed by the source files' paths, sizes and
/// modification times (a changed source gets a new key); written atomically, and ending in a
/// checksum of everything before it, so that a truncated or altered file is never read as pixels.
public enum DecodedCache {
    static let magic = Array("BPFDC002".utf8)

    /// What reading a cache file gave.
    public enum Outcome {
        case loaded(train: Dataset, test: Dataset)
        /// No cache file for these sources yet.
        case missing
        /// A file that cannot be trusted, and why.
        case damaged(String)
    }

    /// A running 64-bit FNV-1a over 32-bit words (every field of the file is a multiple of 4
    /// bytes), about 4 GB/s: a Fashion-MNIST cache of 220 MB costs some 60 ms to check.
    struct Checksum {
        private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

        mutating func add(_ bytes: UnsafeRawBufferPointer) {
            precondition(bytes.count % 4 == 0)
            var h = value
            for index in stride(from: 0, to: bytes.count, by: 4) {
                h = (h ^ UInt64(bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self))) &* 0x0000_0100_0000_01B3
            }
            value = h
        }
    }

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

    /// Reads a cached pair straight into tensor memory, checking its checksum; `.damaged` says
    /// why a file present cannot be used (the caller then decodes the sources again).
    public static func load(_ path: String) -> Outcome {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return .missing }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .damaged("cannot be read") }
        var remaining = Int(status.st_size)  // bytes not yet read: no count may promise more
        var checksum = Checksum()
        func readExactly(_ pointer: UnsafeMutableRawPointer, _ count: Int, checked: Bool = true) -> Bool {
            guard count <= remaining else { return false }
            remaining -= count
            var done = 0
            while done < count {
                let n = read(descriptor, pointer + done, count - done)
                if n <= 0 { return false }
                done += n
            }
            if checked { checksum.add(UnsafeRawBufferPointer(start: pointer, count: count)) }
            return true
        }
        func integer() -> Int? {
            var value: Int64 = 0
            return readExactly(&value, 8) ? Int(value) : nil
        }
        var header = [UInt8](repeating: 0, count: 8)
        guard readExactly(&header, 8, checked: false) else { return .damaged("truncated") }
        guard header == magic else {
            return .damaged(header.starts(with: Array("BPFDC".utf8)) ? "written by an earlier bpfree, without a checksum" : "not a decoded cache")
        }
        guard let classCount = integer(), let rank = integer(), (1...4).contains(rank) else { return .damaged("truncated or bad header") }
        var shape: [Int] = [], features = 1
        for _ in 0..<rank {
            // Extents a hostile file makes huge would overflow their product or the allocation.
            guard let extent = integer(), extent > 0, extent <= 1 << 24 else { return .damaged("bad sample shape") }
            let (product, overflow) = features.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= 1 << 24 else { return .damaged("bad sample shape") }
            shape.append(extent)
            features = product
        }
        func dataset() -> Dataset? {
            // Allocate only what the rest of the file can fill: labels and pixels, 4 bytes each.
            guard let count = integer(), count >= 0, count <= remaining / (4 * (features + 1)) else { return nil }
            var labels = [Int32](repeating: 0, count: count)
            guard labels.withUnsafeMutableBytes({ readExactly($0.baseAddress!, 4 * count) }) else { return nil }
            var inputs = Tensor(uninitialized: [count, features])
            guard inputs.withUnsafeMutablePointer({ readExactly($0, 4 * count * features) }) else { return nil }
            return Dataset(inputs: inputs, labels: labels, sampleShape: shape, classCount: classCount)
        }
        guard let train = dataset(), let test = dataset() else { return .damaged("truncated") }
        var stored: UInt64 = 0
        guard readExactly(&stored, 8, checked: false) else { return .damaged("truncated (no checksum)") }
        guard stored == checksum.value else { return .damaged("checksum mismatch: its contents were altered") }
        var extra: UInt8 = 0
        guard read(descriptor, &extra, 1) == 0 else { return .damaged("longer than its contents") }
        guard train.labels.allSatisfy({ $0 >= 0 && Int($0) < classCount }), test.labels.allSatisfy({ $0 >= 0 && Int($0) < classCount }) else {
            return .damaged("labels outside the classes")
        }
        return .loaded(train: train, test: test)
    }

    /// Writes the pair atomically; failures are ignored (the cache is only an optimisation).
    static func store(_ train: Dataset, _ test: Dataset, to path: String) {
        var data = Data(magic), checksum = Checksum()
        func append(_ bytes: UnsafeRawBufferPointer) {
            data.append(contentsOf: bytes)
            checksum.add(bytes)
        }
        func integer(_ value: Int) { withUnsafeBytes(of: Int64(value)) { append($0) } }
        integer(train.classCount)
        integer(train.sampleShape.count)
        train.sampleShape.forEach(integer)
        for dataset in [train, test] {
            integer(dataset.count)
            dataset.labels.withUnsafeBytes { append($0) }
            dataset.inputs.withUnsafePointer { append(UnsafeRawBufferPointer(start: $0, count: 4 * dataset.inputs.count)) }
        }
        withUnsafeBytes(of: checksum.value) { data.append(contentsOf: $0) }
        let folder = PathComponents.folder(of: path)
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
