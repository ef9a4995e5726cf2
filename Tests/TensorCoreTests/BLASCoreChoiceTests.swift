import Testing
@testable import TensorCore

@Suite struct BLASCoreChoiceTests {
    static let sse: Set<String> = ["sse3", "ssse3", "sse4_2"]
    static let avx = sse.union(["avx"])
    static let avx2 = avx.union(["avx2", "fma"])
    static let avx512 = avx2.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])

    @Test(arguments: [
        (CPUFeatures.Vendor.intel, sse, nil),
        (.intel, avx, "Sandybridge"),
        (.intel, avx.union(["avx2"]), "Sandybridge"),   // AVX2 without FMA does not run Haswell's kernels
        (.intel, avx2, "Haswell"),
        (.amd, avx2, "Zen"),
        (.other, avx2, "Haswell"),
        (.intel, avx2.union(["avx512f"]), "Haswell"),     // AVX-512F alone is not SkylakeX's set
        (.intel, avx512, "SkylakeX"),
        (.intel, avx512.union(["avx512_bf16"]), "SkylakeX"),
        (.amd, avx512.union(["avx512_bf16"]), "SkylakeX"),
    ] as [(CPUFeatures.Vendor, Set<String>, String?)])
    func bestCoreForAFeatureSet(vendor: CPUFeatures.Vendor, flags: Set<String>, expected: String?) {
        #expect(BLASCoreChoice.bestCore(for: CPUFeatures(vendor: vendor, flags: flags))?.core == expected)
    }

    @Test(arguments: [
        // OpenBLAS 0.3.21 on an Emerald Rapids Xeon: Prescott, corrected.
        ("Prescott", CPUFeatures.Vendor.intel, avx512, [:], "SkylakeX"),
        ("Nehalem", .intel, avx2, [:], "Haswell"),
        ("Barcelona", .amd, avx2, [:], "Zen"),
        ("Sandybridge", .amd, avx512, [:], "SkylakeX"),
        // Already of the best tier: kept (Zen 4 gets Cooperlake, measured as fast as SkylakeX).
        ("Cooperlake", .amd, avx512, [:], nil),
        ("SkylakeX", .intel, avx512, [:], nil),
        ("Zen", .amd, avx2, [:], nil),
        ("Haswell", .amd, avx2, [:], nil),
        ("Prescott", .intel, sse, [:], nil),
        // Names bpfree does not rank (another architecture, a later release) are kept.
        ("NEOVERSEN1", .other, [], [:], nil),
        ("Zen5", .amd, avx512, [:], nil),
        // The user's word wins, unless they ask for the best; a re-executed process never overrides again.
        ("Prescott", .intel, avx512, ["OPENBLAS_CORETYPE": "Prescott"], nil),
        ("Prescott", .intel, avx512, ["OPENBLAS_CORETYPE": "Prescott", "BPFREE_BLAS_CORE": "best"], "SkylakeX"),
        ("Prescott", .intel, avx512, ["BPFREE_BLAS_CORE": "library"], nil),
        ("Prescott", .intel, avx512, ["BPFREE_OPENBLAS_LIBRARY_CORE": "Prescott", "OPENBLAS_CORETYPE": "SkylakeX"], nil),
    ] as [(String, CPUFeatures.Vendor, Set<String>, [String: String], String?)])
    func aWeakLibraryChoiceIsOverridden(loaded: String, vendor: CPUFeatures.Vendor, flags: Set<String>,
                                        environment: [String: String], expected: String?) {
        let features = CPUFeatures(vendor: vendor, flags: flags)
        #expect(BLASCoreChoice.override(loadedCore: loaded, features: features, environment: environment) == expected)
    }

    @Test func theChoiceInEffectSaysWhoChoseAndWhy() {
        let xeon = CPUFeatures(vendor: .intel, flags: Self.avx512)
        let chosen = BLASCoreChoice.current(loadedCore: "SkylakeX", features: xeon,
                                            environment: ["BPFREE_OPENBLAS_LIBRARY_CORE": "Prescott", "OPENBLAS_CORETYPE": "SkylakeX"])
        #expect(chosen.chosenBy == .bpfree && chosen.libraryCore == "Prescott" && chosen.core == "SkylakeX")
        #expect(chosen.reason.contains("Prescott (SSE)") && chosen.reason.contains("OPENBLAS_CORETYPE=SkylakeX"), "\(chosen.reason)")

        let refused = BLASCoreChoice.current(loadedCore: "Prescott", features: xeon,
                                             environment: ["BPFREE_OPENBLAS_LIBRARY_CORE": "Prescott", "OPENBLAS_CORETYPE": "SapphireRapids"])
        #expect(refused.reason.contains("OpenBLAS did not take SapphireRapids"), "\(refused.reason)")

        let user = BLASCoreChoice.current(loadedCore: "Prescott", features: xeon, environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(user.chosenBy == .user && user.libraryCore == nil)
        #expect(user.reason.contains("BPFREE_BLAS_CORE=best would use it"), "\(user.reason)")

        let library = BLASCoreChoice.current(loadedCore: "Cooperlake", features: xeon, environment: [:])
        #expect(library.chosenBy == .library && library.libraryCore == "Cooperlake")
    }

    @Test func readsVendorAndFlagsFromCPUInfo() {
        let text = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        model name\t: INTEL(R) XEON(R) PLATINUM 8581C
        flags\t\t: fpu sse sse2 pni ssse3 fma sse4_2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16

        processor\t: 1
        vendor_id\t: GenuineIntel
        flags\t\t: fpu
        """
        let features = CPUFeatures(cpuinfo: text)
        #expect(features.vendor == .intel)
        #expect(features.has("sse3", "avx512vl") && !features.has("amx_tile"))
        #expect(features.kernelFlagsPresent == ["sse3", "ssse3", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd",
                                               "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"])
        #expect(BLASCoreChoice.bestCore(for: features)?.core == "SkylakeX")
    }
}
