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

        // A seeded generator every module may use (no dependencies).
        .target(name: "Randomness"),

        // Compute: tensors → layers → training → algorithms.
        .target(name: "TensorCore", dependencies: ["CBLAS", "CDNNL", "Randomness"], swiftSettings: numericSettings),
        .target(name: "Datasets", dependencies: ["TensorCore", "CZlib"], swiftSettings: numericSettings),
        .target(name: "NeuralNetwork", dependencies: ["TensorCore"], swiftSettings: numericSettings),
        .target(name: "Training", dependencies: ["TensorCore", "Datasets", "NeuralNetwork"],
                swiftSettings: numericSettings),
        .target(name: "Algorithms", dependencies: ["TensorCore", "Datasets", "NeuralNetwork", "Training"],
                swiftSettings: numericSettings),

        // Infrastructure: never imports tensor code.
        .target(name: "Metering"),
        .target(name: "Tuning", dependencies: ["Randomness"]),
        .target(name: "Results", dependencies: ["Tuning", "CPostgreSQL", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Reporting", dependencies: ["Results", "Tuning", "Randomness"]),

        // Composition and the thin CLI.
        .target(name: "Experiments", dependencies: [
            "TensorCore", "Datasets", "NeuralNetwork", "Training", "Algorithms", "Metering", "Results", "Tuning",
        ]),
        .executableTarget(name: "bpfree", dependencies: [
            "Experiments", "TensorCore", "Results", "Tuning", "Reporting",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests.
        .target(name: "TestSupport", dependencies: ["TensorCore", "NeuralNetwork", "Datasets", "CZlib", "Results"],
                path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["NeuralNetwork", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Algorithms", "TestSupport"]),
        .testTarget(name: "AlgorithmsTests", dependencies: ["Algorithms", "Training", "TestSupport"]),
        .testTarget(name: "MeteringTests", dependencies: ["Metering", "TestSupport"]),
        .testTarget(name: "ResultsTests", dependencies: ["Results", "Tuning", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TuningTests", dependencies: ["Tuning", "Randomness"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Results", "Tuning", "TestSupport"]),
        .testTarget(name: "BPFreeTests", dependencies: ["bpfree", "Experiments", "TensorCore", "Results", "Tuning", "Reporting", "TestSupport",
                                                     .product(name: "ArgumentParser", package: "swift-argument-parser")], exclude: ["Snapshots"]),
    ],
    swiftLanguageModes: [.v6]
)
