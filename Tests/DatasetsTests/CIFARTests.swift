@testable import Datasets
import Foundation
import TensorCore
import Testing
import TestSupport

@Suite struct CIFARTests {
    /// A CIFAR-10-format archive with `perFile` records per training batch file and in the test file.
    static func writeCIFAR10(to folder: String, perFile: Int, corrupt: ((inout [(String, [UInt8])]) -> Void)? = nil) {
        var files: [(String, [UInt8])] = (1...5).map { batch in
            ("cifar-10-batches-bin/data_batch_\(batch).bin",
             CIFARFiles.records(count: perFile, labelBytes: 1) { [UInt8(($0 + batch) % 10)] })
        }
        files.append(("cifar-10-batches-bin/test_batch.bin", CIFARFiles.records(count: perFile, labelBytes: 1) { [UInt8($0 % 10)] }))
        corrupt?(&files)
        FileManager.default.createFile(atPath: folder + "/cifar-10-binary.tar.gz", contents: Data(IDXFiles.gzip(CIFARFiles.tar(files))))
    }

    @Test func decodesCIFAR100FineLabelsAndNormalisesPerChannel() throws {
        let bytes = CIFARFiles.records(count: 3, labelBytes: 2) { [UInt8(5), UInt8(90 + $0)] }
        let dataset = try CIFAR.cifar100.decode([("train.bin", ArraySlice(bytes))], expectedPerFile: nil)
        #expect(dataset.labels == [90, 91, 92], "the fine label, not the coarse one")
        #expect(dataset.sampleShape == [3, 32, 32])
        let (mean, std) = CIFAR.cifar100.normalization
        for (r, c, i) in [(0, 0, 0), (1, 1, 17), (2, 2, 1023)] {
            let raw = Float((r * 7 + c * 50 + i) % 256)
            #expect(abs(dataset.inputs[r * 3072 + c * 1024 + i] - (raw / 255 - mean[c]) / std[c]) < 1e-5)
        }
    }

    @Test func readsTheArchiveStraightFromTarGz() throws {
        let folder = IDXFiles.temporaryFolder()
        Self.writeCIFAR10(to: folder, perFile: 4)
        let files = (1...5).map { batch in
            ("data_batch_\(batch).bin", ArraySlice(CIFARFiles.records(count: 4, labelBytes: 1) { [UInt8(($0 + batch) % 10)] }))
        }
        let expected = try CIFAR.cifar10.decode(files, expectedPerFile: nil)
        // Loading with the real per-file count fails on a small archive; decode the members directly.
        let archive = try IDX.contents(of: folder + "/cifar-10-binary.tar.gz")
        let members = try Tar.members(of: archive, path: "a.tar.gz")
        #expect(members.map(\.name) == (1...5).map { "cifar-10-batches-bin/data_batch_\($0).bin" } + ["cifar-10-batches-bin/test_batch.bin"])
        let decoded = try CIFAR.cifar10.decode(members.prefix(5).map { ($0.name, $0.contents) }, expectedPerFile: 4)
        #expect(decoded.inputs == expected.inputs && decoded.labels == expected.labels)
    }

    @Test func officialCountsAreEnforced() {
        let folder = IDXFiles.temporaryFolder()
        Self.writeCIFAR10(to: folder, perFile: 4)
        #expect { _ = try CIFAR.cifar10.load(folder: folder) } throws: {
            "\($0)".contains("data_batch_1.bin: expected 10000 records")
        }
    }

    @Test func missingTarMemberNamesTheArchiveAndMember() {
        let folder = IDXFiles.temporaryFolder()
        Self.writeCIFAR10(to: folder, perFile: 2) { files in files.removeLast() }
        #expect { _ = try CIFAR.cifar10.load(folder: folder) } throws: {
            "\($0)".contains("cifar-10-binary.tar.gz: tar member cifar-10-batches-bin/test_batch.bin is missing")
        }
    }

    @Test func recordCountNotAMultipleOfTheRecordSize() {
        let bytes = CIFARFiles.records(count: 2, labelBytes: 1) { _ in [1] }.dropLast(5)
        #expect { _ = try CIFAR.cifar10.decode([("test_batch.bin", ArraySlice(bytes))], expectedPerFile: nil) } throws: {
            "\($0)" == "test_batch.bin: 6141 bytes is not a multiple of the 3073-byte record"
        }
    }

    @Test func labelOutOfRange() {
        let bytes = CIFARFiles.records(count: 2, labelBytes: 1) { [UInt8($0 == 1 ? 10 : 3)] }
        #expect { _ = try CIFAR.cifar10.decode([("b.bin", ArraySlice(bytes))], expectedPerFile: nil) } throws: {
            "\($0)" == "b.bin: label 10 of record 1 is outside 0...9"
        }
    }

    @Test func truncatedTarMember() {
        var archive = CIFARFiles.tar([("x/test.bin", [UInt8](repeating: 1, count: 3074 * 2))])
        archive.removeLast(1024 + 3000)
        #expect { _ = try Tar.members(of: archive, path: "c.tar") } throws: { "\($0)".contains("c.tar: tar member x/test.bin needs 6148 bytes") }
    }

    /// Found by fuzzing (Fuzz/Crashes/cifar-tar): a negative size field trapped.
    @Test func negativeTarSizeIsAnError() {
        var archive = CIFARFiles.tar([("x/test.bin", [UInt8](repeating: 1, count: 10))])
        archive.replaceSubrange(124..<136, with: Array("-0000000007\0".utf8))
        #expect { _ = try Tar.members(of: archive, path: "d.tar") } throws: { "\($0)" == "d.tar: corrupt tar header at byte 0 (size field '-0000000007')" }
    }
}

@Suite struct AugmentationTests {
    /// A 1-channel 32×32 image whose pixel (y, x) holds y·32 + x.
    static func image() -> Tensor {
        Tensor(shape: [1, 1024], scalars: (0..<1024).map(Float.init))
    }

    @Test func cropsWithReflectPaddingAndFlipsDeterministically() {
        var seen = Set<[Float]>()
        var sawFlip = false, sawShift = false
        for seed in UInt64(0)..<40 {
            var inputs = Self.image()
            var scratch = Tensor(zeros: [0])
            Augmentation.cropAndFlip.apply(to: &inputs, sampleShape: [1, 32, 32], scratch: &scratch, key: seed)
            // Replay the draws to know the expected transform.
            let (dy, dx, flip) = Augmentation.draw(row: 0, key: seed)
            #expect(abs(dy) <= 4 && abs(dx) <= 4)
            func reflect(_ i: Int) -> Int { i < 0 ? -i : (i > 31 ? 62 - i : i) }
            for y in [0, 5, 31] {
                for x in [0, 13, 31] {
                    let sx = reflect((flip ? 31 - x : x) + dx), sy = reflect(y + dy)
                    #expect(inputs[y * 32 + x] == Float(sy * 32 + sx))
                }
            }
            sawFlip = sawFlip || flip
            sawShift = sawShift || dx != 0 || dy != 0
            seen.insert(inputs.scalars)
        }
        #expect(sawFlip && sawShift && seen.count > 20)
    }

    @Test func keepsThePixelsWhenTheDrawIsIdentity() {
        // Search a seed whose draw is (0, 0, no flip): the image must come back unchanged.
        for seed in UInt64(0)..<2000 {
            guard case (0, 0, false) = Augmentation.draw(row: 0, key: seed) else { continue }
            var inputs = Self.image()
            var scratch = Tensor(zeros: [0])
            Augmentation.cropAndFlip.apply(to: &inputs, sampleShape: [1, 32, 32], scratch: &scratch, key: seed)
            #expect(inputs == Self.image())
            return
        }
        Issue.record("no identity draw found")
    }
}

@Suite struct SyntheticSpecificationTests {
    @Test func parsesSizeClassesShapeAndNoise() throws {
        let spec = try SyntheticDataset.Specification(parsing: "synthetic:samples=600,classes=3,shape=2x4x4,noise=0.1")
        #expect(spec.samples == 600 && spec.classes == 3 && spec.shape == [2, 4, 4] && spec.noise == 0.1)
        let splits = spec.splits(seed: 1)
        #expect(splits.train.count == 400 && splits.validation.count == 100 && splits.test.count == 100)
        #expect(splits.train.sampleShape == [2, 4, 4] && splits.train.featureCount == 32)
        #expect(spec.splits(seed: 1).train.inputs == splits.train.inputs)
        #expect(spec.splits(seed: 2).train.inputs != splits.train.inputs)
    }

    @Test func badSpecificationsNameTheItem() {
        #expect { _ = try SyntheticDataset.Specification(parsing: "synthetic:shape=3xx") } throws: { "\($0)".contains("'shape=3xx'") }
        #expect { _ = try SyntheticDataset.Specification(parsing: "synthetic:colour=red") } throws: { "\($0)".contains("'colour=red'") }
    }
}

@Suite struct DecodedCacheTests {
    /// The Fashion-MNIST source files in `folder` and the path of their decoded cache.
    static func cache(in folder: String) throws -> (sources: [String], cache: String) {
        let sources = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                       "t10k-labels-idx1-ubyte.gz"].map { folder + "/" + $0 }
        return (sources, try #require(DecodedCache.path(for: "fashion-mnist", sources: sources, dataFolder: folder)))
    }

    @Test func secondLoadComesFromTheCacheAndAChangedSourceInvalidatesIt() throws {
        let folder = IDXFiles.temporaryFolder()
        IDXFiles.writeDataset(to: folder, train: 40, test: 10)
        let first = try ImageClassificationDataset.fashionMNIST.load(dataDirectory: folder, seed: 1)
        let (sources, cache) = try Self.cache(in: folder)
        #expect(FileManager.default.fileExists(atPath: cache))
        let second = try ImageClassificationDataset.fashionMNIST.load(dataDirectory: folder, seed: 1)
        #expect(second.train.inputs == first.train.inputs && second.test.labels == first.test.labels)
        // A different source (more test images) changes the key; the new data are decoded.
        IDXFiles.writeDataset(to: folder, train: 40, test: 12)
        #expect(DecodedCache.path(for: "fashion-mnist", sources: sources, dataFolder: folder) != cache)
        #expect(try ImageClassificationDataset.fashionMNIST.load(dataDirectory: folder, seed: 1).test.count == 12)
        try? FileManager.default.removeItem(atPath: cache)
    }

    /// Found by fuzzing (Fuzz/Crashes/decoded-cache): sample extents whose product overflows,
    /// and a sample count larger than the file could hold, are refused before any allocation.
    @Test func hostileShapesAndCountsAreRefused() throws {
        let path = IDXFiles.temporaryFolder() + "/hostile.f32"
        func file(_ fields: [Int64]) -> Data {
            var data = Data(DecodedCache.magic)
            for var field in fields { withUnsafeBytes(of: &field) { data.append(contentsOf: $0) } }
            return data
        }
        for (fields, reason) in [([3, 2, 1 << 40, 1 << 40], "bad sample shape"), ([3, 1, 4, 1 << 40], "truncated")] as [([Int64], String)] {
            #expect(FileManager.default.createFile(atPath: path, contents: file(fields)))
            guard case .damaged(let why) = DecodedCache.load(path) else {
                Issue.record("\(fields) was not refused")
                continue
            }
            #expect(why == reason)
        }
    }

    /// A truncated or altered cache is detected by its checksum, never read as pixels: the
    /// sources are decoded again and the cache rewritten.
    @Test(arguments: ["truncate", "alter"])
    func aDamagedCacheIsDetectedAndDecodedAgain(damage: String) throws {
        let folder = IDXFiles.temporaryFolder()
        IDXFiles.writeDataset(to: folder, train: 30, test: 10)
        let original = try ImageClassificationDataset.fashionMNIST.load(dataDirectory: folder, seed: 1)
        let cache = try Self.cache(in: folder).cache
        var bytes = try Data(contentsOf: URL(fileURLWithPath: cache))
        if damage == "truncate" { bytes.removeLast(100) } else { bytes[bytes.count / 2] ^= 0x40 }  // one bit of one pixel
        try bytes.write(to: URL(fileURLWithPath: cache))
        guard case .damaged(let reason) = DecodedCache.load(cache) else {
            Issue.record("a \(damage)d cache was accepted")
            return
        }
        #expect(reason.contains(damage == "truncate" ? "truncated" : "checksum mismatch"), "\(reason)")
        let reloaded = try ImageClassificationDataset.fashionMNIST.load(dataDirectory: folder, seed: 1)
        #expect(reloaded.train.inputs == original.train.inputs && reloaded.test.inputs == original.test.inputs)
        guard case .loaded = DecodedCache.load(cache) else { Issue.record("the cache was not rewritten"); return }
        try? FileManager.default.removeItem(atPath: cache)
    }

    @Test func aCorruptCacheFileIsIgnored() throws {
        let folder = IDXFiles.temporaryFolder()
        IDXFiles.writeDataset(to: folder, train: 20, test: 10)
        let cache = try Self.cache(in: folder).cache
        try FileManager.default.createDirectory(atPath: (cache as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: cache, contents: Data(repeating: 7, count: 500))
        #expect(try ImageClassificationDataset.fashionMNIST.load(dataDirectory: folder, seed: 1).test.count == 10)
        try? FileManager.default.removeItem(atPath: cache)
    }
}
