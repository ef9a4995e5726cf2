import Foundation
import Testing
@testable import Tuning

/// The Parzen estimator against Optuna 4.9.0 (Scripts/tpe_golden.py).
@Suite struct ParzenEstimatorTests {
    static func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-9) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            (x.isInfinite && y.isInfinite && x.sign == y.sign) || abs(x - y) <= tolerance * max(1, abs(y))
        }
    }

    @Test(arguments: ParzenGolden.cases.map(\.name))
    func matchesOptuna(name: String) {
        let golden = ParzenGolden.cases.first { $0.name == name }!
        let estimator = ParzenEstimator(observations: golden.observations, distribution: golden.distribution)
        #expect(Self.close(estimator.weights, golden.weights), "weights \(estimator.weights)")
        #expect(Self.close(estimator.mus, golden.mus), "mus \(estimator.mus)")
        #expect(Self.close(estimator.sigmas, golden.sigmas), "sigmas \(estimator.sigmas)")
        #expect(Self.close(golden.points.map(estimator.logPDF), golden.logPDF, tolerance: 1e-7),
                "log-pdf \(golden.points.map(estimator.logPDF))")
    }

    @Test func categoricalMatchesOptuna() {
        let estimator = ParzenEstimator(observations: [0, 2, 2, 1], distribution: .categorical(count: 3))
        #expect(Self.close(estimator.weights, ParzenGolden.categoricalWeights))
        for (row, expected) in zip(estimator.categoricalRows, ParzenGolden.categoricalMatrix) { #expect(Self.close(row, expected)) }
        #expect(Self.close([0, 1, 2].map(estimator.logPDF), ParzenGolden.categoricalLogPDF))
    }

    @Test func gammaAndWeightsMatchOptuna() {
        #expect([0, 1, 9, 10, 11, 100, 249, 250, 400].map(ParzenEstimator.defaultGamma) == ParzenGolden.gammas)
        #expect(Self.close(ParzenEstimator.defaultWeights(30), ParzenGolden.weights30))
    }

    @Test func logNormalCDFIsAccurateInTheFarTail() {
        // Optuna's _log_ndtr: log Φ(−30) = −454.32124395634315 (asymptotic series), log Φ(8) = −6.2209605742718e-16.
        #expect(abs(TruncatedNormal.logNdtr(-30) - (-454.32124395634315)) < 1e-9)
        #expect(abs(TruncatedNormal.logNdtr(8) + 6.220960574271785e-16) < 1e-25)
        #expect(abs(TruncatedNormal.logGaussMass(-1, 1) - log(0.6826894921370859)) < 1e-12)
    }
}
