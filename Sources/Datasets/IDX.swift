import Foundation

/// Readers for the IDX format of MNIST and Fashion-MNIST (big-endian header, then bytes).
public enum IDX {
    /// Magic number of an unsigned-byte tensor of rank 3 (images).
    static let imageMagic: UInt32 = 0x0000_0803
    /// Magic number of an unsigned-byte tensor of rank 1 (labels).
    static let labelMagic: UInt32 = 0x0000_0801

    /// Images as bytes with their count, rows and columns.
    public struct Images {
        public var count: Int
        public var rows: Int
        public var columns: Int
        public var pixels: [UInt8]
    }

    /// Reads a file's bytes, decompressing it when its name ends in `.gz`.
    public static func contents(of path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(path: path, problem: "file not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(path: path, problem: "file could not be read")
        }
        let bytes = [UInt8](data)
        return path.hasSuffix(".gz") ? try Gzip.decompress(bytes, path: path) : bytes
    }

    /// Parses an IDX3 image file (magic 0x00000803).
    public static func images(from bytes: [UInt8], path: String) throws -> Images {
        let header = try parseHeader(bytes, path: path, magic: imageMagic, rank: 3, kind: "image")
        let (count, rows, columns) = (header[0], header[1], header[2])
        // NOTE: three 32-bit extents can multiply past Int.max (a hostile header): the product
        // is checked, not trapped.
        let (area, areaOverflow) = rows.multipliedReportingOverflow(by: columns)
        let (pixels, pixelsOverflow) = count.multipliedReportingOverflow(by: area)
        guard !areaOverflow, !pixelsOverflow else {
            throw DatasetError(path: path, problem: "the header's \(count) images of \(rows)×\(columns) are more bytes than any file holds")
        }
        let expected = 16 + pixels
        guard bytes.count == expected else {
            throw DatasetError(path: path, problem: "expected \(expected) bytes for \(count) images of \(rows)×\(columns), found \(bytes.count)")
        }
        return Images(count: count, rows: rows, columns: columns, pixels: Array(bytes[16...]))
    }

    /// Parses an IDX1 label file (magic 0x00000801); every label must be below `classCount`.
    public static func labels(from bytes: [UInt8], path: String, classCount: Int) throws -> [Int32] {
        let header = try parseHeader(bytes, path: path, magic: labelMagic, rank: 1, kind: "label")
        let count = header[0]
        guard bytes.count == 8 + count else {
            throw DatasetError(path: path, problem: "expected \(8 + count) bytes for \(count) labels, found \(bytes.count)")
        }
        var labels = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let label = bytes[8 + i]
            guard Int(label) < classCount else {
                throw DatasetError(path: path, problem: "label \(label) of sample \(i) is outside 0...\(classCount - 1)")
            }
            labels[i] = Int32(label)
        }
        return labels
    }

    private static func parseHeader(_ bytes: [UInt8], path: String, magic: UInt32, rank: Int, kind: String) throws -> [Int] {
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DatasetError(path: path, problem: "too short for an IDX \(kind) header (\(bytes.count) bytes)")
        }
        func word(_ offset: Int) -> UInt32 {
            bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        let found = word(0)
        guard found == magic else {
            throw DatasetError(path: path, problem: "wrong magic number \(hex(found)), expected \(hex(magic)) for an IDX \(kind) file")
        }
        return (0..<rank).map { Int(word(4 + 4 * $0)) }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
