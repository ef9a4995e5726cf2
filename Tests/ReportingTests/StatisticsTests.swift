import Testing
@testable import Reporting

@Suite struct StatisticsTests {
    @Test func meanSampleSDAndTInterval() {
        // 1, 2, 3, 4: mean 2.5, SD √(5/3), t(0.975, 3) = 3.182.
        let s = Summary([1, 2, 3, 4])
        #expect(s.n == 4 && s.mean == 2.5)
        #expect(abs(s.sd - (5.0 / 3).squareRoot()) < 1e-12)
        let half = 3.182 * (5.0 / 3).squareRoot() / 2
        #expect(abs(s.ci95!.lowerBound - (2.5 - half)) < 1e-9 && abs(s.ci95!.upperBound - (2.5 + half)) < 1e-9)
        #expect(Summary([7]).sd == 0 && Summary([7]).ci95 == nil)
        #expect(Summary([]).mean.isNaN)
    }

    @Test func tQuantilesFollowTheTableAndApproachTheNormal() {
        #expect(Statistics.tQuantile975(degreesOfFreedom: 1) == 12.706)
        #expect(Statistics.tQuantile975(degreesOfFreedom: 30) == 2.042)
        #expect(abs(Statistics.tQuantile975(degreesOfFreedom: 60) - 2.000) < 2e-3)
        #expect(abs(Statistics.tQuantile975(degreesOfFreedom: 10_000) - 1.960) < 1e-3)
    }

    @Test func bootstrapIsSeededAndBracketsTheMean() {
        let deltas = [0.5, 1.0, 1.5, 0.8, 1.2]
        let ci = Statistics.bootstrapCI95(deltas, seed: 3)!
        #expect(ci == Statistics.bootstrapCI95(deltas, seed: 3)!)
        #expect(ci.lowerBound < 1.0 && ci.upperBound > 1.0)
        // The resampled means never leave [min, max]; a constant sample has a zero-width CI.
        #expect(ci.lowerBound >= 0.5 && ci.upperBound <= 1.5)
        #expect(Statistics.bootstrapCI95([2, 2, 2]) == 2...2)
        #expect(Statistics.bootstrapCI95([1]) == nil)
        // By hand: resampling (0, 1) gives means 0, ½, 1 with probabilities ¼, ½, ¼, so the 2.5th
        // and 97.5th percentiles are 0 and 1; for (1, 2, 3) the extremes 1 and 3 each have
        // probability 1/27 > 2.5%, so they are the bounds.
        #expect(Statistics.bootstrapCI95([0, 1], seed: 7) == 0...1)
        #expect(Statistics.bootstrapCI95([1, 2, 3], seed: 7) == 1...3)
        // Percentiles interpolate linearly, as numpy's default.
        #expect(Statistics.percentile([1, 2, 3, 4], 50) == 2.5)
        #expect(Statistics.percentile([1, 2, 3, 4], 2.5) == 1.075)
    }

    /// Below five paired seeds the report says why it shows no bootstrap CI instead of showing
    /// the deltas' own range as one.
    @Test func tooFewPairsGiveNoBootstrapInterval() {
        #expect(Report.pairedInterval([0.43, 1.53]) == "n=2 pairs: too few for a CI (needs ≥ 5)")
        #expect(Report.pairedInterval(nil) == "unpaired")
        #expect(Report.pairedInterval([0.5, 1.0, 1.5, 0.8, 1.2]) == Report.interval(Statistics.bootstrapCI95([0.5, 1.0, 1.5, 0.8, 1.2])))
    }
}

/// Error bars of quantities that cannot be negative stop at zero: no axis below it.
@Suite struct ChartTests {
    @Test func errorBarsStopAtTheirFloor() {
        var chart = LineChart(title: "t", xLabel: "latency (ms)", yLabel: "accuracy (%)",
                              series: [.init(name: "ff", color: "red", points: [(25.7, 50)], xErrors: [35.2], yErrors: [70], markersOnly: true)])
        #expect(chart.svg.contains(">-"), "symmetric bars reach below zero")
        chart.errorFloor = 0
        #expect(!chart.svg.contains(">-"), "no negative tick once the bars stop at zero")
    }
}
