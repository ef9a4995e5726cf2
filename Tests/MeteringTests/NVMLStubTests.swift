import Foundation
import Testing
import TestSupport
@testable import Metering

/// NVML against a stub `libnvidia-ml.so.1` compiled by the test with the real C signatures.
@Suite(.serialized) struct NVMLStubTests {
    static let source = #"""
    #include <string.h>
    typedef struct nvmlDevice_st* nvmlDevice_t;
    typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
    typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
    typedef union { double dVal; unsigned int uiVal; unsigned long long ullVal; } nvmlValue_t;
    typedef struct { unsigned int fieldId, scopeId; long long timestamp, latencyUsec; int valueType, nvmlReturn; nvmlValue_t value; } nvmlFieldValue_t;
    static int mode = 0;                  /* 0: counter, 1: power only, 2: neither */
    static unsigned long long energy_mj = 1000;
    static unsigned int power_mw = 100000;
    static int instant_mw = -1;           /* the instant power field; -1: not supported */
    static struct nvmlDevice_st { int id; } devices[2];
    void stub_set(int m, unsigned long long e, unsigned int p) { mode = m; energy_mj = e; power_mw = p; }
    void stub_set_instant(int mw) { instant_mw = mw; }
    int nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *values) {
        for (int i = 0; i < count; i++) {
            if (values[i].fieldId != 186 || instant_mw < 0) { values[i].nvmlReturn = 3; continue; }
            values[i].nvmlReturn = 0; values[i].valueType = 1; values[i].value.uiVal = (unsigned int)instant_mw;
        }
        return 0;
    }
    int nvmlInit_v2(void) { return 0; }
    int nvmlShutdown(void) { return 0; }
    int nvmlDeviceGetCount_v2(unsigned int *count) { *count = 2; return 0; }
    int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) { if (i > 1) return 2; *d = &devices[i]; return 0; }
    int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *e) { if (mode != 0) return 3; *e = energy_mj; return 0; }
    int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *p) { if (mode == 2) return 3; *p = power_mw; return 0; }
    int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) { u->gpu = 70; u->memory = 20; return 0; }
    int nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) { *mhz = type == 1 ? 1410 : 0; return 0; }
    int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) { m->total = 40ULL << 30; m->used = 3ULL << 30; m->free = m->total - m->used; return 0; }
    """#

    /// Compiles the stub once into a temporary folder; nil (with a recorded issue) without a C compiler.
    static let library: String? = {
        let folder = IDXFiles.temporaryFolder()
        let sourcePath = folder + "/nvml_stub.c", libraryPath = folder + "/libnvidia-ml.so.1"
        try? source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        for compiler in ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"] where FileManager.default.isExecutableFile(atPath: compiler) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: compiler)
            process.arguments = ["-shared", "-fPIC", "-o", libraryPath, sourcePath]
            try? process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 { return libraryPath }
        }
        return nil
    }()

    typealias SetFunction = @convention(c) (Int32, UInt64, UInt32) -> Void

    static func stub(mode: Int32, millijoules: UInt64, milliwatts: UInt32) throws {
        let path = try #require(library, "a C compiler (cc, gcc or clang) is needed to build the NVML stub")
        let handle = try #require(dlopen(path, RTLD_NOW))
        let set = unsafeBitCast(try #require(dlsym(handle, "stub_set")), to: SetFunction.self)
        set(mode, millijoules, milliwatts)
    }

    @Test func counterPath() throws {
        try Self.stub(mode: 0, millijoules: 1_000, milliwatts: 100_000)
        let meter = try NVMLMeter.discover(libraryPath: try #require(Self.library)).get()
        #expect(meter.methods == [.counter, .counter])
        meter.start(at: 0)
        try Self.stub(mode: 0, millijoules: 4_500, milliwatts: 100_000)
        let sample = meter.sample(at: 0.2)
        #expect(sample.watts == 200, "two devices at 100 W")
        #expect(sample.gpuUtilizationPercent == 70 && sample.gpuSMClockMHz == 1410)
        #expect(sample.gpuMemoryBytes == Double(2 * (3 << 30)))
        // Each device's counter advanced 3,500 mJ.
        #expect(meter.stop(at: 1) == 7.0)
    }

    @Test func powerSamplingPath() throws {
        try Self.stub(mode: 1, millijoules: 0, milliwatts: 50_000)
        let meter = try NVMLMeter.discover(libraryPath: try #require(Self.library)).get()
        #expect(meter.methods == [.powerSampling, .powerSampling])
        meter.start(at: 0)                                          // 50 W each
        try Self.stub(mode: 1, millijoules: 0, milliwatts: 150_000)
        _ = meter.sample(at: 1)                                     // 150 W each: 100 J each over [0, 1]
        // 150 W until t = 3: 300 J more each.
        #expect(abs(meter.stop(at: 3) - 2 * (100 + 300)) < 1e-9)
    }

    /// Where the instant power field is reported, the trace and power-sampled energy use it,
    /// not the one-second average; where it is not, the average, and the meter says which.
    @Test func instantPowerIsPreferredToTheOneSecondAverage() throws {
        let path = try #require(Self.library)
        let handle = try #require(dlopen(path, RTLD_NOW))
        let setInstant = unsafeBitCast(try #require(dlsym(handle, "stub_set_instant")), to: (@convention(c) (Int32) -> Void).self)
        defer { setInstant(-1) }
        try Self.stub(mode: 1, millijoules: 0, milliwatts: 100_000)
        setInstant(250_000)
        let meter = try NVMLMeter.discover(libraryPath: path).get()
        #expect(meter.powerReading == .instant)
        meter.start(at: 0)
        #expect(meter.sample(at: 1).watts == 500, "two devices at 250 W instant, not 100 W average")
        #expect(abs(meter.stop(at: 2) - 2 * 500) < 1e-9)
        setInstant(-1)
        let averaged = try NVMLMeter.discover(libraryPath: path).get()
        #expect(averaged.powerReading == .average && averaged.sample(at: 0).watts == 200)
    }

    @Test func unsupportedFunctionsMakeTheMeterUnavailable() throws {
        try Self.stub(mode: 2, millijoules: 0, milliwatts: 0)
        guard case .failure(let reason) = NVMLMeter.discover(libraryPath: try #require(Self.library)) else {
            Issue.record("expected unavailability")
            return
        }
        #expect(reason.reason == "no GPU reports an energy counter or power usage")
    }

    @Test func missingLibraryIsUnavailableNotAnError() {
        guard case .failure(let reason) = NVMLMeter.discover(libraryPath: "/nonexistent/libnvidia-ml.so.1") else {
            Issue.record("expected unavailability")
            return
        }
        #expect(reason.meter == "nvml")
    }
}
