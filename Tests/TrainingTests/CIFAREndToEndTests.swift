import Algorithms
import Datasets
import Foundation
import TensorCore
import Testing
import TestSupport
import Training

/// The CIFAR path end to end without network: an extracted CIFAR-100 folder in the real record
/// format, the protocol's split, augmented training batches through the Trainer.
@Suite struct CIFAREndToEndTests {
    @Test func trainsOnAnExtractedCIFAR100FolderWithAugmentation() throws {
        let folder = IDXFiles.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder + "/cifar-100-binary", withIntermediateDirectories: true)
        let train = CIFARFiles.records(count: 300, labelBytes: 2) { [0, UInt8($0 % 3)] }
        let test = CIFARFiles.records(count: 60, labelBytes: 2) { [0, UInt8($0 % 3)] }
        #expect(FileManager.default.createFile(atPath: folder + "/cifar-100-binary/train.bin", contents: Data(train)))
        #expect(FileManager.default.createFile(atPath: folder + "/cifar-100-binary/test.bin", contents: Data(test)))
        let (pool, testSet) = try CIFAR.cifar100.load(folder: folder, trainRecordsPerFile: 300, testRecords: 60)
        let (trainIndices, validationIndices) = ImageClassificationDataset.cifar100.splitIndices(count: pool.count, seed: 1)
        #expect(trainIndices.count == 270 && validationIndices.count == 30)
        var trainSet = pool.subset(trainIndices)
        trainSet.augmentation = .cropAndFlip
        let data = DataSplits(train: trainSet, validation: pool.subset(validationIndices), test: testSet)
        let built = try AlgorithmRegistry.make(id: "bp", architecture: .mlp(hiddenWidths: [16]), inputShape: [3, 32, 32], classCount: 100,
                                               common: CommonHyperparameters(batchSize: 30), seed: 1)
        let result = Trainer(configuration: .init(stopping: StoppingRule(patience: 5, minDelta: 0, maxEpochs: 2), batchSize: 30, seed: 1))
            .fit(built.algorithm, data: data)
        #expect(result.status == .completed)
        #expect(result.window.trainSamples == 2 * 270)
        #expect(result.testAccuracy != nil)
    }

    @Test func augmentationLeavesLabelsAndTheSourceUntouched() {
        let dataset = SyntheticDataset.clusters(samples: 8, features: 3 * 32 * 32, classes: 2, seed: 1)
        var batch = Batch()
        var schedule = BatchSchedule(count: 8, batchSize: 8, order: .sequential)
        schedule.fill(&batch, index: 0, from: dataset)
        let labels = batch.labels
        var scratch = Tensor(zeros: [0])
        Augmentation.cropAndFlip.apply(to: &batch.inputs, sampleShape: [3, 32, 32], scratch: &scratch, key: 3)
        #expect(batch.labels == labels)
        #expect(batch.inputs != dataset.inputs, "the batch copy changes")
        #expect(Set(batch.inputs.scalars).isSubset(of: Set(dataset.inputs.scalars)), "crops only move pixels")
    }
}
