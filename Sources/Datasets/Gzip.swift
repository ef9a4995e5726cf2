import CZlib

/// gzip decoding through zlib.
public enum Gzip {
    /// The most a stream may decompress to: 1 GiB, four times the largest dataset file bpfree
    /// reads (CIFAR-100's archive), so that a hostile file cannot take all memory.
    public static let maximumOutput = 1 << 30

    /// The decompressed bytes of a complete gzip stream.
    ///
    /// Throws when the stream is corrupt, ends before its trailer (a truncated download) or
    /// decompresses to more than `limit` bytes.
    public static func decompress(_ compressed: [UInt8], path: String, limit: Int = maximumOutput) throws -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError(path: path, problem: "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: min(max(compressed.count * 4, 1 << 16), limit))
        var produced = 0
        var status: Int32 = Z_OK
        try compressed.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                if produced == output.count {
                    guard output.count < limit else {
                        throw DatasetError(path: path, problem: "decompresses to more than \(limit >> 20) MiB: not a dataset file")
                    }
                    output.append(contentsOf: [UInt8](repeating: 0, count: min(output.count, limit - output.count)))
                }
                status = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(out.count - produced)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    produced = out.count - Int(stream.avail_out)
                    return status
                }
                switch status {
                case Z_STREAM_END:
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw DatasetError(path: path, problem: "truncated gzip stream (the file ends after \(input.count) bytes, before the gzip trailer)")
                case Z_BUF_ERROR:
                    continue
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw DatasetError(path: path, problem: "corrupt gzip data (\(message))")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }
}
