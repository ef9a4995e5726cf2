import Datasets
import Foundation
import TensorCore
import Testing
import TestSupport

@Suite struct IDXTests {
    @Test func roundTripsPixelsAndLabelsExactly() throws {
        let folder = IDXFiles.temporaryFolder()
        let (pixels, labels) = IDXFiles.writeDataset(to: folder, train: 30, test: 12)
        let dataset = try ImageClassificationDataset.fashionMNIST.loadPair(
            images: folder + "/train-images-idx3-ubyte.gz", labels: folder + "/train-labels-idx1-ubyte.gz")
        #expect(dataset.count == 30)
        #expect(dataset.sampleShape == [1, 28, 28])
        #expect(dataset.labels == labels.map(Int32.init))
        let (mean, std) = ImageClassificationDataset.fashionMNIST.normalization
        for i in stride(from: 0, to: pixels.count, by: 97) {
            let expected = (Float(pixels[i]) / 255 - mean) / std
            #expect(abs(dataset.inputs[i] - expected) < 1e-5)
        }
    }

    @Test func readsUncompressedFilesToo() throws {
        let folder = IDXFiles.temporaryFolder()
        let bytes = IDXFiles.labels([1, 2, 3])
        #expect(FileManager.default.createFile(atPath: folder + "/labels", contents: Data(bytes)))
        #expect(try IDX.labels(from: IDX.contents(of: folder + "/labels"), path: "labels", classCount: 10) == [1, 2, 3])
    }

    func expectError(_ problem: String, file: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected an error about \(file): \(problem)")
        } catch let error as DatasetError {
            #expect(error.path.hasSuffix(file), "\(error)")
            #expect(error.problem.contains(problem), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func wrongMagicNumberNamesTheFile() {
        let bytes = IDXFiles.images([0, 0, 0, 0], count: 1, rows: 2, columns: 2, magic: 0x0000_0801)
        expectError("wrong magic number 0x00000801, expected 0x00000803", file: "images.gz") {
            _ = try IDX.images(from: bytes, path: "/data/images.gz")
        }
    }

    @Test func truncatedGzipNamesTheFile() {
        let folder = IDXFiles.temporaryFolder()
        let full = IDXFiles.gzip(IDXFiles.images([UInt8](repeating: 7, count: 4 * 784), count: 4, rows: 28, columns: 28))
        #expect(FileManager.default.createFile(atPath: folder + "/cut.gz", contents: Data(full.prefix(full.count / 2))))
        expectError("truncated gzip", file: "cut.gz") { _ = try IDX.contents(of: folder + "/cut.gz") }
    }

    @Test func corruptGzipNamesTheFile() {
        var bytes = IDXFiles.gzip(IDXFiles.labels([1, 2, 3, 4, 5, 6, 7, 8]))
        bytes[12] ^= 0xFF
        bytes[13] ^= 0xFF
        expectError("gzip", file: "bad.gz") { _ = try Gzip.decompress(bytes, path: "bad.gz") }
    }

    /// A small file that decompresses to more than the limit (a "gzip bomb") is refused, not
    /// allowed to take all memory.
    @Test func aStreamLargerThanTheLimitIsRefused() throws {
        let bomb = IDXFiles.gzip([UInt8](repeating: 0, count: 3 << 20))
        #expect(bomb.count < 1 << 14)
        expectError("decompresses to more than 2 MiB", file: "bomb.gz") { _ = try Gzip.decompress(bomb, path: "bomb.gz", limit: 2 << 20) }
        #expect(try Gzip.decompress(bomb, path: "bomb.gz", limit: 3 << 20).count == 3 << 20)
    }

    /// Found by fuzzing (Fuzz/Crashes/gzip-idx): extents whose product overflows are an error.
    @Test func extentsThatOverflowAreAnError() {
        var bytes: [UInt8] = [0, 0, 8, 3]
        for _ in 0..<3 { bytes += [0xFF, 0xFF, 0xFF, 0xFF] }
        expectError("are more bytes than any file holds", file: "huge") { _ = try IDX.images(from: bytes, path: "huge") }
    }

    @Test func truncatedPayloadNamesTheFile() {
        let bytes = IDXFiles.images([UInt8](repeating: 1, count: 10), count: 2, rows: 28, columns: 28)
        expectError("expected 1584 bytes for 2 images of 28×28, found 26", file: "short") {
            _ = try IDX.images(from: bytes, path: "short")
        }
    }

    @Test func labelOutOfRangeNamesTheFileAndSample() {
        expectError("label 12 of sample 1 is outside 0...9", file: "labels.gz") {
            _ = try IDX.labels(from: IDXFiles.labels([3, 12]), path: "labels.gz", classCount: 10)
        }
    }

    @Test func imageLabelCountMismatchNamesBothFiles() {
        let folder = IDXFiles.temporaryFolder()
        _ = FileManager.default.createFile(atPath: folder + "/i.gz", contents: Data(IDXFiles.gzip(
            IDXFiles.images([UInt8](repeating: 0, count: 3 * 4), count: 3, rows: 2, columns: 2))))
        #expect(FileManager.default.createFile(atPath: folder + "/l.gz", contents: Data(IDXFiles.gzip(IDXFiles.labels([1, 2])))))
        expectError("2 labels for 3 images", file: "l.gz") {
            _ = try ImageClassificationDataset.mnist.loadPair(images: folder + "/i.gz", labels: folder + "/l.gz")
        }
    }

    @Test func missingFileNamesTheFile() {
        expectError("file not found", file: "nothing-here.gz") { _ = try IDX.contents(of: "/nonexistent/nothing-here.gz") }
    }

    @Test func missingDatasetSaysWhereItLookedAndWhatToDo() {
        let folder = IDXFiles.temporaryFolder()
        do {
            _ = try ImageClassificationDataset.mnist.locate(dataDirectory: folder)
            Issue.record("expected an error")
        } catch let error as DatasetError {
            #expect(error.path == folder)
            #expect(error.problem.contains("no mnist files"))
        } catch { Issue.record("\(error)") }
    }
}

@Suite struct SplitTests {
    @Test func fashionMNISTValidationIsASeededTenPercent() {
        let dataset = ImageClassificationDataset.fashionMNIST
        let (train, validation) = dataset.splitIndices(count: 60_000, seed: 1)
        #expect(train.count == 54_000 && validation.count == 6_000)
        #expect(Set(train).isDisjoint(with: validation))
        #expect(Set(train + validation).count == 60_000)
        #expect(dataset.splitIndices(count: 60_000, seed: 1).validation == validation)
        #expect(dataset.splitIndices(count: 60_000, seed: 2).validation != validation)
    }

    @Test func mnistSplitIsFixed() {
        let (train, validation) = ImageClassificationDataset.mnist.splitIndices(count: 60_000, seed: 7)
        #expect(train == Array(0..<50_000))
        #expect(validation == Array(50_000..<60_000))
    }

    @Test func dataDirectoryOrderIsFlagEnvironmentCacheThenDebian() {
        let roots = ImageClassificationDataset.searchRoots(dataDirectory: nil, environment: ["BPFREE_DATA": "/d", "HOME": "/home/u"])
        #expect(roots == ["/d", "/home/u/.cache/bpfree", "/usr/share/datasets"])
        #expect(ImageClassificationDataset.searchRoots(dataDirectory: "/x", environment: ["BPFREE_DATA": "/d"]) == ["/x"])
    }

    @Test func findsFilesInADatasetSubfolder() throws {
        let root = IDXFiles.temporaryFolder()
        try FileManager.default.createDirectory(atPath: root + "/fashion-mnist", withIntermediateDirectories: true)
        IDXFiles.writeDataset(to: root + "/fashion-mnist", train: 20, test: 10)
        #expect(try ImageClassificationDataset.fashionMNIST.locate(dataDirectory: root) == root + "/fashion-mnist")
        let splits = try ImageClassificationDataset.fashionMNIST.load(dataDirectory: root, seed: 1)
        #expect(splits.train.count == 18 && splits.validation.count == 2 && splits.test.count == 10)
    }

    @Test func realFashionMNISTNormalisationWhenInstalled() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") else { return }
        let splits = try ImageClassificationDataset.fashionMNIST.load(dataDirectory: "/usr/share/datasets/fashion-mnist", seed: 1)
        #expect(splits.train.count == 54_000 && splits.validation.count == 6_000 && splits.test.count == 10_000)
        // With the protocol's constants the training pixels have mean ≈ 0 and std ≈ 1.
        let values = splits.train.inputs.scalars
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance.squareRoot() - 1) < 0.01)
    }
}

@Suite struct BatchTests {
    @Test func shuffledBatchesDropTheLastAndCoverEachSampleOnce() {
        let dataset = SyntheticDataset.clusters(samples: 10, features: 2, classes: 2, seed: 1)
        var schedule = BatchSchedule(count: 10, batchSize: 3, order: .shuffledDroppingLast)
        #expect(schedule.batchCount == 3)
        var generator = SeededGenerator(seed: 4)
        schedule.startEpoch(using: &generator)
        var batch = Batch()
        var seen: [Float] = []
        for index in 0..<schedule.batchCount {
            schedule.fill(&batch, index: index, from: dataset)
            #expect(batch.inputs.shape == [3, 2])
            seen += (0..<3).map { batch.inputs[$0 * 2] }
        }
        #expect(Set(seen).count == 9)
    }

    @Test func sequentialBatchesKeepTheShortLastBatch() {
        let dataset = SyntheticDataset.clusters(samples: 10, features: 2, classes: 2, seed: 1)
        var schedule = BatchSchedule(count: 10, batchSize: 4, order: .sequential)
        #expect(schedule.batchCount == 3)
        var batch = Batch()
        schedule.fill(&batch, index: 2, from: dataset)
        #expect(batch.labels.count == 2)
        #expect(batch.inputs.scalars == Array(dataset.inputs.scalars[16..<20]))
    }

    @Test func refillingABatchDoesNotAllocate() {
        let dataset = SyntheticDataset.clusters(samples: 64, features: 8, classes: 2, seed: 1)
        var schedule = BatchSchedule(count: 64, batchSize: 8, order: .shuffledDroppingLast)
        var generator = SeededGenerator(seed: 1)
        schedule.startEpoch(using: &generator)
        var batch = Batch()
        schedule.fill(&batch, index: 0, from: dataset)
        let storage = batch.inputs.withUnsafePointer { $0 }
        for index in 1..<schedule.batchCount { schedule.fill(&batch, index: index, from: dataset) }
        #expect(batch.inputs.withUnsafePointer { $0 } == storage)
    }
}
