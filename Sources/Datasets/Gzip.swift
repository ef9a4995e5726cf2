import CZlib

/// gzip decoding through zlib.
public enum Gzip {
    /// The decompressed bytes of a complete gzip stream.
    ///
    /// Throws when the stream is corrupt or ends before its trailer (a truncated download).
    public static func decompress(_ compressed: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError(path: path, problem: "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(compressed.count * 4, 1 << 16))
        var produced = 0
        var status: Int32 = Z_OK
        try compressed.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                if produced == output.count {
                    output.append(contentsOf: [UInt8](repeating: 0, count: output.count))
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
