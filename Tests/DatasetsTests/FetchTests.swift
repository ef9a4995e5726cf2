import Datasets
import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct FetchTests {
    static let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static var file: DatasetFiles.File { DatasetFiles.File(name: "data.bin", md5: MD5.hex(body)) }

    @Test func md5MatchesKnownVectors() throws {
        #expect(MD5.hex([UInt8]()) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5.hex(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(MD5.hex(Array("The quick brown fox jumps over the lazy dog".utf8)) == "9e107d9d372bb6826bd81d3542a419d6")
        let folder = IDXFiles.temporaryFolder()
        FileManager.default.createFile(atPath: folder + "/f", contents: Data(Self.body))
        #expect(try DatasetFiles.md5(ofFile: folder + "/f") == MD5.hex(Self.body))
    }

    @Test func downloadsVerifiesAndMovesIntoPlace() throws {
        let server = try LocalHTTPServer(routes: ["data.bin": .serve(Self.body)])
        defer { server.stop() }
        let folder = IDXFiles.temporaryFolder()
        try Downloader().fetch(Self.file, into: folder, mirrors: [server.baseURL])
        #expect(FileManager.default.contents(atPath: folder + "/data.bin") == Data(Self.body))
        #expect(!FileManager.default.fileExists(atPath: folder + "/data.bin.part"))
    }

    @Test func resumesAfterAConnectionCutMidFile() throws {
        let server = try LocalHTTPServer(routes: ["data.bin": .cutAfter(bytes: 70_000, times: 1, body: Self.body)])
        defer { server.stop() }
        let folder = IDXFiles.temporaryFolder()
        try Downloader().fetch(Self.file, into: folder, mirrors: [server.baseURL])
        #expect(FileManager.default.contents(atPath: folder + "/data.bin") == Data(Self.body))
        #expect(server.rangeRequests == ["data.bin bytes=70000-"])
    }

    @Test func httpErrorsFallThroughToTheNextMirror() throws {
        let broken = try LocalHTTPServer(routes: ["data.bin": .status(500)])
        let good = try LocalHTTPServer(routes: ["data.bin": .serve(Self.body)])
        defer { broken.stop(); good.stop() }
        let folder = IDXFiles.temporaryFolder()
        try Downloader().fetch(Self.file, into: folder, mirrors: [broken.baseURL, good.baseURL])
        #expect(FileManager.default.contents(atPath: folder + "/data.bin") == Data(Self.body))
    }

    @Test func everyMirrorFailingNamesTheFileAndEachProblem() throws {
        let missing = try LocalHTTPServer(routes: [:])
        var corrupted = Self.body
        corrupted[100] ^= 1
        let wrong = try LocalHTTPServer(routes: ["data.bin": .serve(corrupted)])
        defer { missing.stop(); wrong.stop() }
        let folder = IDXFiles.temporaryFolder()
        #expect { try Downloader().fetch(Self.file, into: folder, mirrors: [missing.baseURL, wrong.baseURL]) } throws: {
            let text = "\($0)"
            return text.contains("data.bin: no mirror gave the published file") && text.contains("HTTP 404")
                && text.contains("checksum mismatch")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/data.bin"), "nothing half-written in place")
        #expect(!FileManager.default.fileExists(atPath: folder + "/data.bin.part"), "a bad download is removed")
    }

    @Test func aGoodCopyIsNeverReplaced() throws {
        let folder = IDXFiles.temporaryFolder()
        FileManager.default.createFile(atPath: folder + "/data.bin", contents: Data(Self.body))
        let catalogFolder = folder
        let wrong = try LocalHTTPServer(routes: ["data.bin": .serve([1, 2, 3])])
        defer { wrong.stop() }
        let catalog = DatasetFiles(dataset: .mnist, files: [Self.file], mirrors: [wrong.baseURL])
        let report = try Downloader().fetch(catalog, into: catalogFolder)
        #expect(report == ["data.bin: already present and verified"])
        #expect(FileManager.default.contents(atPath: folder + "/data.bin") == Data(Self.body))
    }

    @Test func catalogChecksumsMatchTheirPublishers() {
        #expect(DatasetFiles.of(.fashionMNIST).files.map(\.md5) == ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                                                 "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"])
        #expect(DatasetFiles.of(.cifar10).files.map(\.md5) == ["c32a1d4ab5d03f1284b67883e8d87530"])
        #expect(DatasetFiles.of(.cifar100).files.map(\.md5) == ["03b5dce01913d631647c71ecec9e9cb8"])
    }
}
