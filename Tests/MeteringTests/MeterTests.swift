import Foundation
import Testing
import TestSupport
@testable import Metering

@Suite struct RAPLMeterTests {
    /// A fake powercap tree: package zones with energy counters, a core sub-zone, a non-package zone.
    static func makeTree(_ packages: [(energy: UInt64, max: UInt64)]) throws -> String {
        let root = IDXFiles.temporaryFolder()
        for (index, package) in packages.enumerated() {
            let zone = root + "/intel-rapl:\(index)"
            try FileManager.default.createDirectory(atPath: zone + "/intel-rapl:\(index):0", withIntermediateDirectories: true)
            try "package-\(index)\n".write(toFile: zone + "/name", atomically: true, encoding: .utf8)
            try "\(package.energy)\n".write(toFile: zone + "/energy_uj", atomically: true, encoding: .utf8)
            try "\(package.max)\n".write(toFile: zone + "/max_energy_range_uj", atomically: true, encoding: .utf8)
            try "core\n".write(toFile: zone + "/intel-rapl:\(index):0/name", atomically: true, encoding: .utf8)
            try "999999\n".write(toFile: zone + "/intel-rapl:\(index):0/energy_uj", atomically: true, encoding: .utf8)
        }
        let psys = root + "/intel-rapl:9"
        try FileManager.default.createDirectory(atPath: psys, withIntermediateDirectories: true)
        try "psys\n".write(toFile: psys + "/name", atomically: true, encoding: .utf8)
        try "5\n".write(toFile: psys + "/energy_uj", atomically: true, encoding: .utf8)
        return root
    }

    static func set(_ root: String, package: Int, energy: UInt64) throws {
        try "\(energy)\n".write(toFile: root + "/intel-rapl:\(package)/energy_uj", atomically: true, encoding: .utf8)
    }

    @Test func sumsPackagesAcrossAWraparound() throws {
        let root = try Self.makeTree([(1_000_000, 10_000_000), (9_000_000, 10_000_000)])
        let meter = try RAPLMeter.discover(root: root).get()
        #expect(meter.zoneNames == ["package-0", "package-1"])
        meter.start(at: 0)
        try Self.set(root, package: 0, energy: 3_000_000)    // +2 J
        try Self.set(root, package: 1, energy: 9_500_000)    // +0.5 J
        let sample = meter.sample(at: 1)
        #expect(abs((sample.watts ?? 0) - 2.5) < 1e-9)
        try Self.set(root, package: 1, energy: 400_000)      // wrapped: +0.5 J to the max, +0.4 J after
        try Self.set(root, package: 0, energy: 4_000_000)    // +1 J
        let joules = meter.stop(at: 2)
        #expect(abs(joules - (2 + 0.5 + 0.9 + 1)) < 1e-9)
    }

    @Test func missingOrUnreadableTreesAreReportedNotThrown() throws {
        guard case .failure(let reason) = RAPLMeter.discover(root: "/nonexistent/powercap") else {
            Issue.record("expected unavailability")
            return
        }
        #expect(reason.reason.contains("no powercap tree"))
        let root = IDXFiles.temporaryFolder()
        try FileManager.default.createDirectory(atPath: root + "/intel-rapl:0", withIntermediateDirectories: true)
        try "package-0".write(toFile: root + "/intel-rapl:0/name", atomically: true, encoding: .utf8)
        guard case .failure(let unreadable) = RAPLMeter.discover(root: root) else {
            Issue.record("expected unavailability")
            return
        }
        #expect(unreadable.reason.contains("energy_uj not readable"))
    }
}

@Suite struct IntegrationAndModelTests {
    @Test func trapezoidIsExactOnPiecewiseLinearPower() {
        var integrator = TrapezoidIntegrator()
        // 0→10 W over 2 s (10 J), then constant 10 W for 1 s (10 J), then down to 0 over 4 s (20 J).
        for (t, w) in [(0.0, 0.0), (1, 5), (2, 10), (3, 10), (5, 5), (7, 0)] { integrator.add(time: t, watts: w) }
        #expect(abs(integrator.joules - 40) < 1e-12)
    }

    @Test func estimateModelArithmetic() {
        var cpu = 0.0
        let constants = EstimateMeter.Constants(cpuTDPWatts: 80, logicalCPUs: 4, memoryWattsPerGiB: 0.375)
        let meter = EstimateMeter(constants: constants, cpuSeconds: { cpu }, residentBytes: { 2 * 1_073_741_824 })
        // 2 of 4 CPUs busy → 40 W; 2 GiB → 0.75 W.
        #expect(abs(meter.watts(utilization: 2, residentBytes: 2 * 1_073_741_824) - 40.75) < 1e-12)
        meter.start(at: 0)
        cpu = 2        // 2 CPU-seconds in 1 s
        #expect(abs((meter.sample(at: 1).watts ?? 0) - 40.75) < 1e-12)
        cpu = 2 + 4    // 4 CPU-seconds in 1 s: all CPUs → 80.75 W
        let joules = meter.stop(at: 2)
        // Constant 40.75 W over [0, 1], then a ramp to 80.75 W over [1, 2].
        #expect(abs(joules - (40.75 + (40.75 + 80.75) / 2)) < 1e-9)
        #expect(!meter.isMeasurement)
    }

    @Test func defaultEstimateConstantsFollowCodeCarbon() {
        let constants = EstimateMeter.Constants.defaults(logicalCPUs: 8)
        #expect(constants.cpuTDPWatts == 32)
        #expect(constants.memoryWattsPerGiB == 0.375)
        #expect(EstimateMeter.Constants.defaults(logicalCPUs: 8, cpuTDPWatts: 120).cpuTDPWatts == 120)
    }

    @Test func carbonConversion() {
        // 3.6 MJ = 1 kWh.
        #expect(CarbonIntensity.worldAverage.grams(forJoules: 3_600_000) == 475)
        #expect(CarbonIntensity.country("fra")!.grams(forJoules: 7_200_000) == 2 * 56.039)
        #expect(CarbonIntensity.country("fra")!.source == "country:FRA")
        #expect(CarbonIntensity.country("XYZ") == nil)
        for code in ["USA", "FRA", "DEU", "CHN", "IND", "GBR", "JPN"] { #expect(CarbonIntensity.country(code) != nil) }
    }
}

@Suite struct SamplerTests {
    @Test func samplesAtTheRequestedRateAndStopsCleanly() {
        let constants = EstimateMeter.Constants.defaults(logicalCPUs: 2)
        let session = MeasurementSession(meters: [EstimateMeter(constants: constants)], traceHz: 50)
        session.start()
        Thread.sleep(forTimeInterval: 0.5)
        let result = session.stop()
        // No wall-clock bound a loaded machine breaks: sample k is never taken before k periods
        // have passed (a late sampler samples less, never more), and times only move forwards.
        #expect(result.rows.count >= 2, "\(result.rows.count) rows in 0.5 s at 50 Hz")
        for (k, row) in result.rows.enumerated() { #expect(row.time >= Double(k + 1) / 50 - 1e-6, "row \(k + 1) at \(row.time) s") }
        #expect(zip(result.rows.dropFirst(), result.rows).allSatisfy { $0.time >= $1.time })
        #expect(result.energySource == "estimate")
        #expect(result.energyJoules > 0)
        #expect(result.summary["rss_bytes"] != nil && result.summary["power_watts"] != nil)
        #expect(result.summary["gpu_utilization_percent"] == nil)
        let csv = TraceRow.csv(result.rows.map(\.values)).split(separator: "\n")
        #expect(csv.first == "time_s,cpu_utilization_percent,cpu_clock_mhz,rss_bytes,power_watts,gpu_utilization_percent,gpu_sm_clock_mhz,gpu_memory_bytes")
        #expect(csv.count == result.rows.count + 1)
        #expect(result.sampledPeakResidentBytes > 0)
    }

    /// Stopping does not wait out the sampler's period: at one sample every 20 s, a stop right
    /// after the start returns long before the next sample would be due.
    @Test func stopDoesNotWaitOutAPeriod() {
        let session = MeasurementSession(meters: [EstimateMeter(constants: .defaults(logicalCPUs: 2))], traceHz: 0.05)
        session.start()
        let began = Date()
        _ = session.stop()
        #expect(Date().timeIntervalSince(began) < 10, "stop waited for the sampler's 20 s period")
    }

    @Test func zeroHertzSamplesOnlyTheEnds() {
        let session = MeasurementSession(meters: [EstimateMeter(constants: .defaults(logicalCPUs: 2))], traceHz: 0)
        session.start()
        Thread.sleep(forTimeInterval: 0.05)
        let result = session.stop()
        #expect(result.rows.isEmpty)
        #expect(result.energyJoules > 0)
    }

    @Test func measuredMetersWinOverTheEstimate() throws {
        let root = try RAPLMeterTests.makeTree([(0, 1_000_000_000)])
        let found = MeterDiscovery.discover(estimate: .defaults(logicalCPUs: 2), raplRoot: root, nvmlLibrary: "/nonexistent/libnvml.so")
        #expect(found.meters.map(\.name) == ["rapl"])
        #expect(found.missing.map(\.meter) == ["nvml"])
        let session = MeasurementSession(meters: found.meters, traceHz: 0)
        session.start()
        try RAPLMeterTests.set(root, package: 0, energy: 2_500_000)
        let result = session.stop()
        #expect(result.energySource == "rapl")
        #expect(result.energyJoules == 2.5)
        #expect(result.energyByMeter == ["rapl": 2.5])
    }
}

/// A timing notices what else ran meanwhile: another process's CPU time, or steal.
@Suite struct ContentionTests {
    @Test func theVerdictFollowsTheShares() {
        #expect(!ContentionProbe.contention(seconds: 1, otherCPUSeconds: 0.05, stealSeconds: 0.01).contended)
        #expect(ContentionProbe.contention(seconds: 1, otherCPUSeconds: 0.2, stealSeconds: 0).contended)
        #expect(ContentionProbe.contention(seconds: 1, otherCPUSeconds: 0, stealSeconds: 0.06).contended)
    }

    /// A busy process beside a half-second timing makes it contended, with its CPU time counted.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/stat")))
    func aBusyNeighbourIsNoticed() throws {
        let neighbour = Process()
        neighbour.executableURL = URL(fileURLWithPath: "/bin/sh")
        neighbour.arguments = ["-c", "while :; do :; done"]
        try neighbour.run()
        // SIGKILL: a test process may ignore SIGTERM (the interrupt tests), and children inherit that.
        defer { kill(neighbour.processIdentifier, SIGKILL); neighbour.waitUntilExit() }
        Thread.sleep(forTimeInterval: 0.1)
        let contention = try #require(ContentionProbe.measure { Thread.sleep(forTimeInterval: 0.5) })
        #expect(contention.contended && contention.otherCPUSeconds > 0.1, "\(contention)")
        #expect(contention.seconds >= 0.5)
    }
}
