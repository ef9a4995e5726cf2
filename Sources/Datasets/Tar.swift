/// A minimal reader of POSIX ustar archives (as produced by `tar`), enough for the CIFAR
/// "binary version" archives: regular files with their names and contents.
public enum Tar {
    /// One regular file of an archive.
    public struct Member {
        public var name: String
        public var contents: ArraySlice<UInt8>
    }

    /// The regular files of `archive` (already decompressed).
    public static func members(of archive: [UInt8], path: String) throws -> [Member] {
        var members: [Member] = []
        var offset = 0
        while offset + 512 <= archive.count {
            let header = archive[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }  // end-of-archive marker
            func field(_ start: Int, _ length: Int) -> String {
                let bytes = archive[(offset + start)..<(offset + start + length)].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            let sizeText = field(124, 12).trimmingCharacters(in: " ")
            guard let size = Int(sizeText, radix: 8), size >= 0 else {
                throw DatasetError(path: path, problem: "corrupt tar header at byte \(offset) (size field '\(sizeText)')")
            }
            let prefix = field(345, 155)
            let name = (prefix.isEmpty ? "" : prefix + "/") + field(0, 100)
            let typeFlag = archive[offset + 156]
            let start = offset + 512
            guard size <= archive.count - start else {
                throw DatasetError(path: path, problem: "tar member \(name) needs \(size) bytes but the archive ends after \(archive.count - start)")
            }
            if typeFlag == UInt8(ascii: "0") || typeFlag == 0 {
                members.append(Member(name: name, contents: archive[start..<(start + size)]))
            }
            offset = start + (size + 511) / 512 * 512
        }
        return members
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.first == character || text.first == "\0" { text.removeFirst() }
        while text.last == character || text.last == "\0" { text.removeLast() }
        return String(text)
    }
}
