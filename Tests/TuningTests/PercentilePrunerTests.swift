import Testing
@testable import Tuning

@Suite struct PercentilePrunerTests {
    static let completed: [[Int: Double]] = [[0: 0.5, 1: 0.6], [0: 0.4, 1: 0.7], [0: 0.8, 1: 0.9], [0: 0.3, 1: 0.5], [0: 0.6, 1: 0.65]]

    @Test func prunesBelowTheMedianOfCompletedTrialsAtTheSameStep() {
        let pruner = PercentilePruner.median
        // Median at step 1 of 0.5, 0.6, 0.65, 0.7, 0.9 is 0.65 (maximising: prune when best < 0.65).
        #expect(pruner.shouldPrune([0: 0.2, 1: 0.6], completed: Self.completed))
        #expect(!pruner.shouldPrune([0: 0.2, 1: 0.7], completed: Self.completed))
        // The best value over all steps counts, not the last one.
        #expect(!pruner.shouldPrune([0: 0.66, 1: 0.1], completed: Self.completed))
    }

    @Test func waitsForStartupTrialsWarmupAndIntervals() {
        #expect(!PercentilePruner.median.shouldPrune([0: 0.0], completed: Array(Self.completed.prefix(4))))
        let warm = PercentilePruner(percentile: 50, startupTrials: 1, warmupSteps: 2, intervalSteps: 1, minTrials: 1)
        #expect(!warm.shouldPrune([0: 0.0, 1: 0.0], completed: Self.completed))
        let every2 = PercentilePruner(percentile: 50, startupTrials: 1, warmupSteps: 0, intervalSteps: 2, minTrials: 1)
        #expect(!every2.shouldPrune([0: 0.9, 1: 0.0], completed: Self.completed), "step 1 is inside the interval of step 0")
    }

    @Test func allNaNIsPrunedAndMissingStepsAreNot() {
        #expect(PercentilePruner.median.shouldPrune([0: .nan, 1: .nan], completed: Self.completed))
        #expect(!PercentilePruner.median.shouldPrune([0: 0.9, 1: 0.9, 2: 0.0], completed: Self.completed), "no completed values at step 2")
    }

    @Test func percentileInterpolatesLinearlyLikeNumpy() {
        #expect(PercentilePruner.percentile([1, 2, 3, 4], 50) == 2.5)
        #expect(PercentilePruner.percentile([10, 0, 5], 25) == 2.5)
        #expect(PercentilePruner.percentile([7], 90) == 7)
    }
}
