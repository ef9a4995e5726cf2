import CZlib
import Foundation

/// Small files in the real dataset formats, for loader tests.
public enum IDXFiles {
    /// gzip-compresses `bytes` (a complete stream with header and trailer).
    public static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                   Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output[..<produced])
    }

    /// An IDX3 image file's bytes (magic 0x00000803).
    public static func images(_ pixels: [UInt8], count: Int, rows: Int, columns: Int, magic: UInt32 = 0x0000_0803) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(rows)) + bigEndian(UInt32(columns)) + pixels
    }

    /// An IDX1 label file's bytes (magic 0x00000801).
    public static func labels(_ labels: [UInt8], magic: UInt32 = 0x0000_0801) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(labels.count)) + labels
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// A fresh temporary folder inside this test process's own root, which is removed when the
    /// process exits (so test runs leave nothing behind in the system's temporary folder).
    public static func temporaryFolder() -> String {
        let path = testRoot + "/" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes a Fashion-MNIST-format dataset (four .gz files) with `train` and `test` samples of
    /// 28×28 into `folder`; pixels and labels follow a fixed pattern so tests can predict them.
    /// Returns the training pixels and labels.
    @discardableResult
    public static func writeDataset(to folder: String, train: Int, test: Int) -> (pixels: [UInt8], labels: [UInt8]) {
        func make(_ n: Int, offset: Int) -> ([UInt8], [UInt8]) {
            let labels = (0..<n).map { UInt8(($0 + offset) % 10) }
            var pixels = [UInt8](repeating: 0, count: n * 784)
            for i in 0..<n {
                for j in 0..<784 {
                    // A class-dependent stripe plus a sample-dependent ramp: learnable, yet varied.
                    let stripe = (j / 28) % 10 == Int(labels[i]) ? 200 : 0
                    pixels[i * 784 + j] = UInt8((stripe + (i * 7 + j * 3) % 50) % 256)
                }
            }
            return (pixels, labels)
        }
        let (trainPixels, trainLabels) = make(train, offset: 0)
        let (testPixels, testLabels) = make(test, offset: 3)
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte.gz", images(trainPixels, count: train, rows: 28, columns: 28)),
            ("train-labels-idx1-ubyte.gz", labels(trainLabels)),
            ("t10k-images-idx3-ubyte.gz", images(testPixels, count: test, rows: 28, columns: 28)),
            ("t10k-labels-idx1-ubyte.gz", labels(testLabels)),
        ]
        for (name, bytes) in files {
            precondition(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(gzip(bytes))))
        }
        return (trainPixels, trainLabels)
    }
}

/// Small archives in the CIFAR "binary version" format.
public enum CIFARFiles {
    /// A ustar archive of regular files (name → bytes).
    public static func tar(_ files: [(String, [UInt8])]) -> [UInt8] {
        var archive: [UInt8] = []
        for (name, bytes) in files {
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at offset: Int) { for (i, b) in text.utf8.enumerated() { header[offset + i] = b } }
            put(name, at: 0)
            put("0000644", at: 100); put("0000000", at: 108); put("0000000", at: 116)
            let size = String(bytes.count, radix: 8)
            put(String(repeating: "0", count: 11 - size.count) + size, at: 124)
            put("00000000000", at: 136)
            header[156] = UInt8(ascii: "0")
            put("ustar", at: 257); put("00", at: 263)
            put("        ", at: 148)
            let checksum = String(header.reduce(0) { $0 + Int($1) }, radix: 8)
            put(String(repeating: "0", count: 6 - checksum.count) + checksum, at: 148)
            header[154] = 0; header[155] = UInt8(ascii: " ")
            archive += header + bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
        }
        return archive + [UInt8](repeating: 0, count: 1024)
    }

    /// Records whose pixels follow a pattern: record r, channel c, pixel i → (r·7 + c·50 + i) mod 256.
    public static func records(count: Int, labelBytes: Int, labelOf: (Int) -> [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for r in 0..<count {
            bytes += labelOf(r)
            for c in 0..<3 { for i in 0..<1024 { bytes.append(UInt8((r * 7 + c * 50 + i) % 256)) } }
        }
        precondition(bytes.count == count * (labelBytes + 3072))
        return bytes
    }
}

/// The test process's temporary root; created on first use and removed at exit.
private let testRootPath = NSTemporaryDirectory() + "bpfree-tests-\(getpid())"
private let testRoot: String = {
    try! FileManager.default.createDirectory(atPath: testRootPath, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: testRootPath) }
    return testRootPath
}()
