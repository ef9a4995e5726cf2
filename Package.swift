// swift-tools-version:6.0
import PackageDescription

/// Release builds drop exclusivity checks in the numeric modules: their hot loops run over raw
/// pointers and the checks only cost time there.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "bpfree",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bpfree", targets: ["bpfree"]),
        .executable(name: "bpfree-fuzz", targets: ["Fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C at the edges: thin shims over the system libraries.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CPostgreSQL", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Values every module may use (no dependencies): a seeded generator; the run record.
        .target(name: "Randomness"),
        .target(name: "Records"),
        .target(name: "FileSystem"),

        // Compute: tensors → layers → training → algorithms.
        .target(name: "TensorCore", dependencies: ["CBLAS", "CDNNL", "Randomness"], swiftSettings: numericSettings),
        // NVIDIA GPUs, loaded at run time (dlopen): the driver, NVRTC, cuBLAS, the kernels' CUDA C,
        // and TensorCore's device backend on them.
        .target(name: "CUDA", dependencies: ["TensorCore"], resources: [
            .embedInCode("Kernels/rows.cu"), .embedInCode("Kernels/elementwise.cu"),
            .embedInCode("Kernels/losses.cu"), .embedInCode("Kernels/optimizers.cu"), .embedInCode("Kernels/convolution.cu"),
            .embedInCode("Kernels/random.cu"),
        ]),
        .target(name: "Datasets", dependencies: ["TensorCore", "CZlib", "FileSystem"], swiftSettings: numericSettings),
        .target(name: "NeuralNetwork", dependencies: ["TensorCore"], swiftSettings: numericSettings),
        .target(name: "Training", dependencies: ["TensorCore", "Datasets", "NeuralNetwork", "Records"],
                swiftSettings: numericSettings),
        .target(name: "Algorithms", dependencies: ["TensorCore", "Datasets", "NeuralNetwork", "Training", "Records"],
                swiftSettings: numericSettings),

        // Infrastructure: never imports tensor code.
        .target(name: "Metering", dependencies: ["Records"]),
        .target(name: "Tuning", dependencies: ["Randomness"]),
        .target(name: "Results", dependencies: ["Records", "Tuning", "FileSystem", "CPostgreSQL", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Reporting", dependencies: ["Records", "Results", "Tuning", "Randomness"]),

        // Composition and the thin CLI.
        .target(name: "Experiments", dependencies: [
            "TensorCore", "Datasets", "NeuralNetwork", "Training", "Algorithms", "Metering", "Records", "Results", "Tuning", "CUDA",
        ]),
        .executableTarget(name: "bpfree", dependencies: [
            "Experiments", "Algorithms", "Training", "Datasets", "TensorCore", "Records", "Results", "Tuning", "Reporting", "FileSystem", "CUDA",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Fuzzing: the readers and parsers as targets of arbitrary bytes, and libFuzzer's entry.
        .target(name: "FuzzTargets", dependencies: ["Algorithms", "Datasets", "Experiments", "Records", "Tuning"]),
        .target(name: "CFuzzer"),
        .executableTarget(name: "Fuzz", dependencies: ["FuzzTargets", "CFuzzer"]),

        // Tests.
        .target(name: "TestSupport", dependencies: ["TensorCore", "NeuralNetwork", "Datasets", "CZlib", "Records", "Results", "CUDA"],
                path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "CUDATests", dependencies: ["CUDA", "TensorCore", "NeuralNetwork", "Datasets", "TestSupport"], exclude: ["CPU"]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["NeuralNetwork", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TensorCore", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Records", "Training", "Algorithms", "Datasets", "NeuralNetwork", "TensorCore", "TestSupport"]),
        .testTarget(name: "AlgorithmsTests", dependencies: ["Records", "Algorithms", "Training", "Datasets", "NeuralNetwork", "TensorCore", "TestSupport",
                                                        "Experiments", "Reporting", "Results"]),
        .testTarget(name: "RecordsTests", dependencies: ["Records", "TestSupport"]),
        .testTarget(name: "MeteringTests", dependencies: ["Records", "Metering", "TestSupport"]),
        .testTarget(name: "ResultsTests", dependencies: ["Records", "Results", "Tuning", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TuningTests", dependencies: ["Tuning", "Randomness"]),
        .testTarget(name: "ReportingTests", dependencies: ["Records", "Reporting", "Results", "Tuning", "TestSupport"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "BPFreeTests", dependencies: ["Records", "bpfree", "Experiments", "Algorithms", "Datasets", "Metering", "Training", "TensorCore", "FileSystem", "Results", "Tuning", "Reporting", "TestSupport", "CUDA", .product(name: "GRDB", package: "GRDB.swift"),
                                                     .product(name: "ArgumentParser", package: "swift-argument-parser")], exclude: ["Snapshots"]),
    ],
    swiftLanguageModes: [.v6]
)
