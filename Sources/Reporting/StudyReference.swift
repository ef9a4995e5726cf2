import Foundation
import Records

/// The original study's published figures (protocol §6: A100-SXM4-40GB, mean ± SD of its 3
/// runs, seeds 42–44, its own rules), with what its logs say about them (§6.1), to set beside
/// bpfree's `seed-paper` runs of the same configuration.
public struct StudyReference: Sendable, Equatable {
    public var dataset: String
    public var architecture: String
    /// bpfree's id of the arm (`ff` is the study's FF-AdamW).
    public var algorithm: String
    public var accuracy: (mean: Double, sd: Double)
    public var effectiveEpochs: Double
    public var seconds: Double
    public var energyWh: Double
    /// What the study's logs show about this row, if anything.
    public var note: String?

    public static func == (a: StudyReference, b: StudyReference) -> Bool {
        a.dataset == b.dataset && a.architecture == b.architecture && a.algorithm == b.algorithm
    }

    /// Where the study measured: its GPU and meter.
    public static let hardware = "A100-SXM4-40GB, NVML"

    /// The row of a configuration, if the study ran it.
    public static func row(dataset: String, architecture: String, algorithm: String) -> StudyReference? {
        table.first { $0.dataset == dataset && $0.architecture == architecture && $0.algorithm == algorithm }
    }

    static let bpEpochs = "the study's logged BP epoch counts are one short (its loop stops before that epoch's line): each run trained one epoch more"
    static let mfStages = "the logged runs predate the code's M0 stage, which bpfree's seed-paper trains (and counts in its effective epochs); layer 1 hit its 12-epoch cap in every logged run"

    static let table: [StudyReference] = {
        func r(_ dataset: String, _ architecture: String, _ algorithm: String, _ mean: Double, _ sd: Double, _ epochs: Double,
               _ seconds: Double, _ wh: Double, _ note: String? = nil) -> StudyReference {
            let bpNote = algorithm == "bp" ? [bpEpochs] : [], mfNote = algorithm == "mf" && dataset == "fashion-mnist" ? [mfStages] : []
            let notes = bpNote + mfNote + (note.map { [$0] } ?? [])
            return StudyReference(dataset: dataset, architecture: architecture, algorithm: algorithm, accuracy: (mean, sd),
                                  effectiveEpochs: epochs, seconds: seconds, energyWh: wh, note: notes.isEmpty ? nil : notes.joined(separator: "; "))
        }
        return [
            r("fashion-mnist", "mlp-4x2000", "ff", 89.63, 0.12, 90.33, 574.60, 14.28),
            r("fashion-mnist", "mlp-4x2000", "bp", 88.88, 0.61, 15.67, 43.09, 1.48),
            r("mnist", "mlp-3x1000", "ff", 98.33, 0.03, 77.00, 370.72, 6.68, "FF-AdamW; the study's FF-SGD row (98.23 ± 0.05) has no bpfree arm"),
            r("mnist", "mlp-3x1000", "bp", 98.09, 0.06, 35.00, 83.85, 1.52),
            r("mnist", "mlp-4x2000", "ff", 98.42, 0.14, 87.00, 509.59, 14.26),
            r("mnist", "mlp-4x2000", "bp", 98.43, 0.03, 49.00, 125.80, 4.23),
            r("mnist", "cnn-3block", "cafo-rand-ce", 98.62, 0.02, 30.00, 69.20, 1.20),
            r("mnist", "cnn-3block", "cafo-dfa-ce", 99.02, 0.05, 37.00, 84.52, 1.64),
            r("mnist", "cnn-3block", "bp", 98.94, 0.15, 15.33, 37.61, 0.90),
            r("fashion-mnist", "cnn-3block", "cafo-rand-ce", 90.36, 0.45, 44.33, 101.09, 1.76),
            r("fashion-mnist", "cnn-3block", "cafo-dfa-ce", 91.72, 0.12, 47.33, 105.37, 2.48),
            r("fashion-mnist", "cnn-3block", "bp", 89.25, 0.34, 13.33, 33.18, 0.81,
              "seeds 42 and 43 both tested seed 43's checkpoint (concurrent jobs shared one checkpoint path; 89.04 % each); a rerun of seed 42 gave 89.68 %"),
            r("cifar10", "cnn-3block", "cafo-rand-ce", 66.09, 0.32, 72.67, 332.79, 5.50),
            r("cifar10", "cnn-3block", "cafo-dfa-ce", 77.60, 0.25, 295.00, 1314.38, 27.37),
            r("cifar10", "cnn-3block", "bp", 79.32, 3.99, 71.67, 339.51, 6.81),
            r("cifar100", "cnn-3block", "cafo-rand-ce", 41.19, 0.29, 136.33, 631.60, 10.56),
            r("cifar100", "cnn-3block", "cafo-dfa-ce", 48.20, 0.22, 261.33, 1161.79, 24.09),
            r("cifar100", "cnn-3block", "bp", 52.63, 5.20, 37.33, 180.57, 3.56),
            r("mnist", "mlp-2x1000", "mf", 98.14, 0.02, 15.33, 35.03, 0.60),
            r("mnist", "mlp-2x1000", "bp", 98.05, 0.10, 16.00, 39.84, 0.69),
            r("fashion-mnist", "mlp-2x1000", "mf", 89.72, 0.11, 23.00, 52.08, 0.86),
            r("fashion-mnist", "mlp-2x1000", "bp", 89.21, 0.50, 17.67, 44.06, 0.79,
              "the published 89.21 ± 0.50 matches no set of runs in the study's logs, which give 89.13 ± 0.63 % and 44.16 s"),
            r("cifar10", "mlp-3x2000", "mf", 62.34, 0.05, 38.00, 177.70, 3.17),
            r("cifar10", "mlp-3x2000", "bp", 61.13, 0.34, 50.67, 268.45, 5.35),
            r("cifar100", "mlp-3x2000", "mf", 30.31, 0.15, 24.00, 110.36, 2.02),
            r("cifar100", "mlp-3x2000", "bp", 29.94, 0.37, 21.33, 111.78, 2.30),
        ]
    }()
}
