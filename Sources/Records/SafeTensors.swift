import Foundation

#if !_endian(little)
#error("safetensors files are little-endian; SafeTensors copies scalars as they lie in memory")
#endif

/// Named Float32 tensors and string metadata in Hugging Face's safetensors format, which
/// PyTorch (`safetensors.torch.load_file`), NumPy and JAX read: an 8-byte little-endian header
/// length, a JSON header (`__metadata__` and, per tensor, `dtype`, `shape` and `data_offsets`
/// into the data), padded with spaces to 8 bytes, then the tensors' bytes back to back.
public struct SafeTensors: Sendable, Equatable {
    /// One tensor: its shape and scalars in row-major order.
    public struct Entry: Sendable, Equatable {
        public var shape: [Int]
        public var scalars: [Float]

        public init(shape: [Int], scalars: [Float]) {
            precondition(shape.reduce(1, *) == scalars.count, "SafeTensors.Entry: \(scalars.count) scalars for \(shape)")
            self.shape = shape
            self.scalars = scalars
        }
    }

    /// A file that is not a safetensors file bpfree can read, and why.
    public struct FormatError: Error, CustomStringConvertible {
        public let problem: String
        public var description: String { problem }
    }

    /// Free-form string metadata (`__metadata__`).
    public var metadata: [String: String]
    /// The tensors by name, written in name order.
    public var tensors: [String: Entry]

    /// The largest header bpfree reads (the safetensors library's own limit).
    public static let maximumHeaderBytes = 100_000_000

    public init(metadata: [String: String] = [:], tensors: [String: Entry] = [:]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let entry = tensors[name]!
            let bytes = entry.scalars.count * 4
            header[name] = ["dtype": "F32", "shape": entry.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        bytes += json
        // NOTE: safetensors is little-endian, as every machine bpfree runs on.
        for name in names { tensors[name]!.scalars.withUnsafeBytes { bytes += $0 } }
        return bytes
    }

    /// Reads a file's bytes; every tensor must be F32, the offsets must tile the data exactly
    /// (as the safetensors library requires), and the metadata must be strings.
    public init(decoding bytes: [UInt8]) throws {
        func fail(_ problem: String) -> FormatError { FormatError(problem: problem) }
        guard bytes.count >= 8 else { throw fail("shorter than the 8-byte header length") }
        let length = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(Self.maximumHeaderBytes), Int(length) <= bytes.count - 8 else {
            throw fail("header length \(length) runs past the file's \(bytes.count) bytes")
        }
        let dataStart = 8 + Int(length)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var spans: [(name: String, begin: Int, end: Int, shape: [Int])] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let fields = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, field) in fields {
                    guard let text = field as? String else { throw fail("metadata '\(key)' is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.map({ ($0 as? NSNumber)?.intValue ?? -1 }),
                  let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2 else {
                throw fail("tensor '\(name)' lacks a dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw fail("tensor '\(name)' is \(dtype); bpfree reads F32 only") }
            guard shape.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else { throw fail("tensor '\(name)' has a bad shape") }
            let (count, overflow) = shape.reduce((1, false)) { partial, extent in
                let product = partial.0.multipliedReportingOverflow(by: extent)
                return (product.partialValue, partial.1 || product.overflow)
            }
            guard !overflow, count <= Int.max / 4, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * 4 else {
                throw fail("tensor '\(name)': data_offsets \(offsets) do not hold shape \(shape) of F32")
            }
            spans.append((name, offsets[0], offsets[1], shape))
        }
        spans.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var next = 0
        for span in spans {
            guard span.begin == next else { throw fail("tensor '\(span.name)' does not start where the previous one ends") }
            next = span.end
        }
        guard next == bytes.count - dataStart else {
            throw fail("the tensors hold \(next) bytes of data, the file \(bytes.count - dataStart)")
        }
        var tensors: [String: Entry] = [:]
        for span in spans {
            let count = (span.end - span.begin) / 4
            let scalars = [Float](unsafeUninitializedCapacity: count) { scalars, initialized in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(scalars).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + span.begin)..<(dataStart + span.end)]))
                }
                initialized = count
            }
            tensors[span.name] = Entry(shape: span.shape, scalars: scalars)
        }
        self.init(metadata: metadata, tensors: tensors)
    }
}
