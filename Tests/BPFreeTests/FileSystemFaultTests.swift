import Foundation
import GRDB
import Records
import Results
import Testing
import TestSupport

/// A small tmpfs of its own (root only: the tests mount and unmount it), to fill up or make
/// read-only under a running `bpfree`.
final class SmallFileSystem {
    let folder = IDXFiles.temporaryFolder()

    init(megabytes: Int) throws {
        guard system("mount -t tmpfs -o size=\(megabytes)m bpfree-test \(folder)") == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: folder])
        }
    }

    deinit { _ = system("umount \(folder)") }

    /// Writes a filler file until the file system is full.
    func fill() {
        guard let handle = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: folder + "/filler", contents: nil); return folder + "/filler" }()) else { return }
        let block = Data(count: 4096)
        while (try? handle.write(contentsOf: block)) != nil {}
        try? handle.close()
    }

    /// Fills the file system, then frees `bytes` of it.
    func fill(leaving bytes: Int) {
        fill()
        guard let handle = FileHandle(forWritingAtPath: folder + "/filler") else { return }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.truncate(atOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        try? handle.close()
    }

    func freeSpace() { try? FileManager.default.removeItem(atPath: folder + "/filler") }

    func makeReadOnly(_ readOnly: Bool) { _ = system("mount -o remount,\(readOnly ? "ro" : "rw") \(folder)") }

    /// Whether this process may mount one (root, and a kernel and container that allow it).
    static let available: Bool = getuid() == 0 && (try? SmallFileSystem(megabytes: 1)) != nil
}

@Suite(.enabled(if: SmallFileSystem.available, "mounting a tmpfs needs root"), .serialized)
struct FileSystemFaultTests {
    static let train = ["train", "--algorithm", "bp", "--architecture", "mlp:8", "--dataset", "synthetic:samples=600,classes=3,shape=4x4",
                        "--epochs", "2", "--threads", "1"]

    /// The store's file system fills up while a run trains: the error names the store, the run
    /// is still written to the JSON record elsewhere, the store passes `integrity_check` and
    /// keeps every run recorded before.
    @Test func aStoreThatFillsUpMidRunKeepsEveryEarlierRun() throws {
        let disk = try SmallFileSystem(megabytes: 2)
        let store = disk.folder + "/runs.sqlite"
        let outside = IDXFiles.temporaryFolder()
        for seed in ["1", "2"] {
            #expect(try BPFreeProcess(Self.train + ["--seed", seed, "--store", store], log: outside + "/ok.log").exitStatus(within: 60) == 0)
        }
        let long = try BPFreeProcess(["train", "--algorithm", "bp", "--architecture", "mlp:128,128", "--dataset",
                                      "synthetic:samples=6000,classes=3,shape=16x16", "--epochs", "15", "--patience", "15", "--threads", "1",
                                      "--store", store, "--output", outside + "/run.json"], log: outside + "/full.log")
        defer { long.kill() }
        Thread.sleep(forTimeInterval: 1.5)
        disk.fill()
        let status = long.exitStatus(within: 60)
        #expect(status == 1, "\(long.output)")
        #expect(long.output.contains("--store: \(store): cannot write to the results store ("), "\(long.output)")
        #expect(long.output.contains("completed, test accuracy"), "the run's summary is printed")
        #expect(FileManager.default.fileExists(atPath: outside + "/run.json"), "the JSON record elsewhere is written")
        disk.freeSpace()
        let queue = try DatabaseQueue(path: store)
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try ResultsStore(path: store).runs().map(\.seed) == [1, 2])
    }

    /// The store and the JSON record share a nearly full disk: the small JSON is written first,
    /// so the store's failing write cannot take the space it needs (it did: both were lost).
    @Test func theJSONRecordIsWrittenBeforeTheStoreTakesTheLastSpace() throws {
        let disk = try SmallFileSystem(megabytes: 2)
        let store = disk.folder + "/runs.sqlite", json = disk.folder + "/run.json"
        let outside = IDXFiles.temporaryFolder()
        let long = try BPFreeProcess(["train", "--algorithm", "bp", "--architecture", "mlp:128,128", "--dataset",
                                      "synthetic:samples=6000,classes=3,shape=16x16", "--epochs", "15", "--patience", "15", "--threads", "1",
                                      "--store", store, "--output", json], log: outside + "/full.log")
        defer { long.kill() }
        Thread.sleep(forTimeInterval: 1.5)
        disk.fill(leaving: 48 << 10)
        #expect(long.exitStatus(within: 60) == 1, "\(long.output)")
        #expect(long.output.contains("--store: \(store): cannot write to the results store ("), "\(long.output)")
        #expect(!long.output.contains("--output"), "\(long.output)")
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(record.status == .completed && record.epochs.count == 15)
    }

    /// The JSON record and the trace on a full file system: both named, neither left half-written;
    /// the store (elsewhere) still gets the run.
    @Test func outputsOnAFullDiskAreNamedAndNotLeftPartial() throws {
        let disk = try SmallFileSystem(megabytes: 1)
        disk.fill()
        let outside = IDXFiles.temporaryFolder()
        let run = try BPFreeProcess(Self.train + ["--store", outside + "/runs.sqlite", "--output", disk.folder + "/run.json",
                                                  "--trace", disk.folder + "/trace.csv"], log: outside + "/log")
        #expect(run.exitStatus(within: 60) == 1)
        #expect(run.output.contains("--output: cannot write \(disk.folder)/run.json"), "\(run.output)")
        #expect(run.output.contains("--trace: cannot write \(disk.folder)/trace.csv"), "\(run.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk.folder) == ["filler"], "no partial or temporary file")
        #expect(try ResultsStore(path: outside + "/runs.sqlite").runs().count == 1)
    }

    /// A read-only file system under the store and under the report folder: each refused with
    /// the file named and the reason, nothing trained for nothing.
    @Test func readOnlyPlacesAreRefusedByName() throws {
        let disk = try SmallFileSystem(megabytes: 4)
        let store = disk.folder + "/runs.sqlite"
        let outside = IDXFiles.temporaryFolder()
        #expect(try BPFreeProcess(Self.train + ["--store", store], log: outside + "/ok.log").exitStatus(within: 60) == 0)
        let copy = outside + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: store, toPath: copy)
        disk.makeReadOnly(true)
        defer { disk.makeReadOnly(false) }
        let train = try BPFreeProcess(Self.train + ["--store", store], log: outside + "/train.log")
        #expect(train.exitStatus(within: 60) == 1)
        #expect(train.output.contains("--store: \(store): cannot open the results store ("), "\(train.output)")
        #expect(train.output.contains("Read-only file system") && !train.output.contains("epoch 1/2"), "\(train.output)")
        let report = try BPFreeProcess(["report", "--store", copy, "--out", disk.folder + "/report"], log: outside + "/report.log")
        #expect(report.exitStatus(within: 60) != 0)
        #expect(report.output.contains("--out: \(disk.folder) is not writable"), "\(report.output)")
    }

    /// A store on a read-only mount can still be listed, reported and exported (it could not
    /// even be opened); a command that writes to it still fails before training.
    @Test func aReadOnlyStoreCanBeRead() throws {
        let disk = try SmallFileSystem(megabytes: 4)
        let store = disk.folder + "/runs.sqlite"
        let outside = IDXFiles.temporaryFolder()
        #expect(try BPFreeProcess(Self.train + ["--store", store], log: outside + "/ok.log").exitStatus(within: 60) == 0)
        disk.makeReadOnly(true)
        defer { disk.makeReadOnly(false) }
        let runs = try BPFreeProcess.run(["runs", "--store", store])
        #expect(runs.status == 0, "\(runs.errors)")
        let report = try BPFreeProcess.run(["report", "--store", store, "--out", outside + "/report"])
        #expect(report.status == 0 && FileManager.default.fileExists(atPath: outside + "/report/report.html"), "\(report.errors)")
        let export = try BPFreeProcess.run(["export", "--store", store, "--output", outside + "/runs.csv"])
        let exported = (try? String(contentsOfFile: outside + "/runs.csv", encoding: .utf8)) ?? ""
        #expect(export.status == 0 && exported.split(separator: "\n").count == 2, "\(export.errors)")
        let train = try BPFreeProcess(Self.train + ["--store", store], log: outside + "/train.log")
        #expect(train.exitStatus(within: 60) == 1 && !train.output.contains("epoch 1/2"), "\(train.output)")
    }
}
