import Foundation
@testable import Records
import Testing
import TestSupport

/// The run record's one field table: every stored property is in it, every key is written, and
/// what is written reads back as the same value.
@Suite struct RunRecordTests {
    /// A new stored property that the table misses would be silently dropped from every record.
    @Test func theFieldTableHoldsEveryStoredProperty() throws {
        let record = RunRecord.example(seed: 1)
        let properties = Mirror(reflecting: record).children.count
        #expect(RunRecord.fields.count == properties)
        let keys = RunRecord.fields.map(\.key.stringValue)
        #expect(Set(keys).count == keys.count, "a key is listed twice")
        let object = try #require(try JSONSerialization.jsonObject(with: record.jsonData()) as? [String: Any])
        #expect(Set(object.keys) == Set(keys), "every key is written, null when absent")
    }

    @Test func readsBackWhatItWrites() throws {
        var record = RunRecord.example(seed: 7)
        record.peakRSSAboveStartBytes = 12 << 20
        record.peakDeviceBytes = 3 << 20
        record.role = .trial
        record.study = "s"
        record.trialNumber = 4
        record.trainLimit = 6000
        #expect(try RunRecord.decoded(from: record.jsonData()) == record)
        #expect(try RunRecord.decoded(from: record.jsonData(pretty: false)) == record)
    }

    /// Records of earlier builds lack later keys: they read with those fields empty; a record
    /// without its identity does not read at all, and the error names the key.
    @Test func anEarlierRecordReadsWithEmptyFieldsAndAnIncompleteOneIsRefused() throws {
        let earlier = Data(#"{"algorithm": "bp", "dataset": "fashion-mnist", "architecture": "mlp-2x1000", "seed": 3, "status": "completed", "test_accuracy": 0.88}"#.utf8)
        let record = try RunRecord.decoded(from: earlier)
        #expect(record.testAccuracy == 0.88 && record.role == .train && record.epochs.isEmpty && record.peakRSSMethod == .sampled)
        let incomplete = Data(#"{"dataset": "fashion-mnist", "architecture": "mlp-2x1000", "seed": 3, "status": "completed"}"#.utf8)
        #expect { try RunRecord.decoded(from: incomplete) } throws: { "\($0)".contains("algorithm") }
    }
}
