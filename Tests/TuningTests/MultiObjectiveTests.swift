import Testing
@testable import Tuning

/// Multi-objective TPE against Optuna 4.9.0 itself (`Scripts/motpe_golden.py`): which trials form
/// the below group, the Parzen estimators built on both groups (hypervolume-contribution weights
/// below), and the Pareto front Optuna's `best_trials` gives.
@Suite struct MultiObjectiveTests {
    static let objectives = [StudyObjective.validationAccuracy, StudyObjective(name: "energy_joules", direction: .minimize)]

    static func trials(_ c: MultiObjectiveGolden.Case) -> [ObservedTrial] {
        c.values.indices.map { ObservedTrial(number: $0, state: .complete, value: c.values[$0][0], values: c.values[$0], parameters: ["x": c.rates[$0]]) }
    }

    static func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) }
    }

    @Test(arguments: MultiObjectiveGolden.cases.map(\.name))
    func matchesOptunasSplitAndEstimators(name: String) {
        let c = MultiObjectiveGolden.cases.first { $0.name == name }!
        let trials = Self.trials(c)
        let (below, _) = TPESampler.split(trials, below: ParzenEstimator.defaultGamma(trials.count), objectives: Self.objectives)
        #expect(below.map(\.number).sorted() == c.below)
        let (l, g) = TPESampler.estimators("x", .float(low: 1e-5, high: 1e-1, log: true), trials: trials, objectives: Self.objectives)
        #expect(Self.close(l.weights, c.lWeights), "\(l.weights) vs \(c.lWeights)")
        #expect(Self.close(l.mus, c.lMus) && Self.close(l.sigmas, c.lSigmas))
        #expect(Self.close(g.weights, c.gWeights) && Self.close(g.mus, c.gMus) && Self.close(g.sigmas, c.gSigmas))
        let frozen = c.values.indices.map { FrozenTrial(id: Int64($0), number: $0, state: .complete, values: c.values[$0]) }
        #expect(frozen.paretoFront(Self.objectives).map(\.number) == c.front)
    }

    /// The 2-D hypervolume and the greedy subset selection on a hand-checked front.
    @Test func hypervolumeAndSubsetSelectionByHand() {
        // Losses (−accuracy, cost): three points of a front, reference (0, 10).
        let points = [[-0.9, 8.0], [-0.8, 4.0], [-0.5, 1.0]]
        // Boxes: 0.9·2 + 0.8·4 + 0.5·3 = 1.8 + 3.2 + 1.5.
        #expect(abs(MultiObjective.hypervolume(points, reference: [0, 10]) - 6.5) < 1e-12)
        // Alone, the middle point dominates 0.8·6 = 4.8, the most; then the last adds 0.5·3.
        #expect(MultiObjective.subsetSelection(points, size: 2, reference: [0, 10]) == [1, 2])
        #expect(MultiObjective.nondominationRanks(points + [[-0.4, 9.0]], below: 4) == [0, 0, 0, 1])
    }

    /// The knee: farthest from the line between the front's ends once both objectives are
    /// scaled over the front (here 0.8 at 2 J: the next 0.05 costs 2.5× the energy); dominated
    /// trials never count; a front of two gives its most accurate trial.
    @Test func theKneeIsWhereMoreAccuracyStartsToCostTheMost() {
        let points: [(Double, Double)] = [(0.5, 1), (0.6, 1.5), (0.8, 2), (0.85, 5), (0.88, 10), (0.79, 3), (0.4, 20)]
        let trials = points.enumerated().map { FrozenTrial(id: Int64($0), number: $0, state: .complete, values: [$1.0, $1.1]) }
        #expect(trials.paretoFront(Self.objectives).map(\.number) == [0, 1, 2, 3, 4])
        #expect(trials.knee(Self.objectives)?.number == 2)
        #expect([trials[0], trials[4], trials[6]].knee(Self.objectives)?.number == 4)
        let single = points.enumerated().map { FrozenTrial(id: Int64($0), number: $0, state: .complete, value: $1.0) }
        #expect(single.knee([.validationAccuracy])?.number == 4, "one objective: the best")
    }

    /// With one objective the sampler is the single-objective TPE unchanged.
    @Test func oneObjectiveIsTheSingleObjectiveSampler() {
        let c = MultiObjectiveGolden.cases[0]
        let trials = Self.trials(c)
        let single = TPESampler.estimators("x", .float(low: 1e-5, high: 1e-1, log: true), trials: trials, objectives: [.validationAccuracy])
        let (below, _) = TPESampler.split(trials, below: ParzenEstimator.defaultGamma(trials.count))
        let expected = ParzenEstimator(observations: below.sorted { $0.number < $1.number }.map { $0.parameters["x"]! },
                                       distribution: .float(low: 1e-5, high: 1e-1, log: true))
        #expect(single.below.weights == expected.weights && single.below.mus == expected.mus)
    }
}
