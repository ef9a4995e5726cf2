import Foundation
import GRDB
import Results
import Testing
import TestSupport

/// Another process holds a SQLite store's write lock: bpfree says it waits, then writes.
@Suite struct StoreLockTests {
    @Test func aLockedStoreSaysWhatItWaitsForThenStoresTheRun() throws {
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/runs.sqlite"
        _ = try ResultsStore(path: store)
        let holder = try DatabaseQueue(path: store)
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? holder.inTransaction(.immediate) { _ in
                locked.signal()
                release.wait()
                return .commit
            }
            done.signal()
        }
        locked.wait()
        let run = try BPFreeProcess(["train", "--algorithm", "bp", "--architecture", "mlp:8", "--dataset", "synthetic:samples=600,classes=3,shape=4x4",
                                     "--epochs", "2", "--threads", "1", "--store", store], log: folder + "/log")
        defer { run.kill() }
        let message = "waiting for the results store \(store): another process holds its write lock (waiting up to 120 s)"
        var announced = false
        for _ in 0..<3000 where !announced && run.exitStatus(within: 0) == nil {
            Thread.sleep(forTimeInterval: 0.02)
            announced = run.output.contains(message)
        }
        release.signal()
        done.wait()
        #expect(announced, "\(run.output)")
        #expect(run.exitStatus(within: 120) == 0, "\(run.output)")
        #expect(try ResultsStore(path: store).runs().count == 1)
    }
}
