import Foundation
import Records
import Testing

/// The safetensors codec: what it writes reads back, and a file that breaks the format's rules
/// is refused with the reason.
@Suite struct SafeTensorsTests {
    static let sample = SafeTensors(metadata: ["format": "pt", "note": "ü \"quoted\""],
                                    tensors: ["b": .init(shape: [3], scalars: [1, -2, .pi]),
                                              "a.weight": .init(shape: [2, 2], scalars: [0.5, 0, -0, .leastNonzeroMagnitude]),
                                              "empty": .init(shape: [0, 4], scalars: [])])

    @Test func writesWhatItReads() throws {
        let bytes = try Self.sample.encoded()
        #expect(try SafeTensors(decoding: bytes) == Self.sample)
        // The header is padded to 8 bytes, and the data follows it in name order.
        let length = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(length % 8 == 0 && bytes.count == 8 + length + 4 * (4 + 3))
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        #expect((header["a.weight"] as! [String: Any])["data_offsets"] as! [Int] == [0, 16])
        #expect((header["b"] as! [String: Any])["data_offsets"] as! [Int] == [16, 28])
    }

    /// One header, changed as a malformed file would be, and the reason each is refused.
    @Test(arguments: [
        (#"{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#, "F16"),
        (#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, "do not hold"),
        (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "does not start"),
        (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, "the file 8"),
        (#"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "bad shape"),
        (#"{"x":{"dtype":"F32","shape":[2147483647,2147483647,4],"data_offsets":[0,8]}}"#, "do not hold"),
        (#"{"__metadata__":{"a":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "not a string"),
        (#"["x"]"#, "not a JSON object"),
    ])
    func refusesAMalformedFile(header: String, reason: String) {
        var bytes = [UInt8](repeating: 0, count: 8)
        let json = Array(header.utf8)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: json.count >> (8 * i)) }
        bytes += json + [UInt8](repeating: 0, count: 8)
        #expect { try SafeTensors(decoding: bytes) } throws: { "\($0)".contains(reason) }
    }

    @Test func refusesAHeaderLongerThanTheFile() {
        #expect { try SafeTensors(decoding: [0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0x7B]) } throws: { "\($0)".contains("runs past") }
        #expect { try SafeTensors(decoding: [1, 2, 3]) } throws: { "\($0)".contains("shorter") }
    }
}
