import Foundation

/// Optuna 4.9's multi-objective pieces of TPE, ported for two objectives: non-domination ranks,
/// the Pareto front, the 2-D hypervolume, greedy hypervolume subset selection (HSSP) and the
/// below group's hypervolume-contribution weights. Every function takes loss values (each
/// objective minimised: a maximised one negated), one row per trial.
/// - Paper: Ozaki et al., "Multiobjective Tree-Structured Parzen Estimator", JAIR 2022;
///   Guerreiro et al., "Greedy Hypervolume Subset Selection in Low Dimensions", ECJ 2016.
public enum MultiObjective {
    /// Optuna's `EPS`.
    static let epsilon = 1e-12

    /// A trial's values as losses: maximised objectives negated.
    public static func losses(_ values: [Double], _ objectives: [StudyObjective]) -> [Double] {
        zip(values, objectives).map { $1.direction == .maximize ? -$0 : $0 }
    }

    /// The distinct rows in lexicographic order (as `np.unique(axis=0)`), each row's position in
    /// them, and the first row that holds each.
    static func unique(_ rows: [[Double]]) -> (rows: [[Double]], inverse: [Int], first: [Int]) {
        let order = rows.indices.sorted { rows[$0].lexicographicallyPrecedes(rows[$1]) || (rows[$0] == rows[$1] && $0 < $1) }
        var distinct: [[Double]] = [], first: [Int] = [], inverse = [Int](repeating: 0, count: rows.count)
        for index in order {
            if distinct.last != rows[index] { distinct.append(rows[index]); first.append(index) }
            inverse[index] = distinct.count - 1
        }
        return (distinct, inverse, first)
    }

    /// On unique, lexicographically sorted rows: whether each is on the Pareto front (2-D: its
    /// second loss is a new running minimum; the first row always is).
    static func isParetoFrontOfUniqueSorted(_ rows: [[Double]]) -> [Bool] {
        guard let first = rows.first else { return [] }
        precondition(first.count <= 2, "MultiObjective: two objectives at most")
        if first.count == 1 { return rows.indices.map { $0 == 0 } }
        var minimum = Double.infinity
        return rows.map { row in
            defer { minimum = min(minimum, row[1]) }
            return row[1] < minimum
        }
    }

    /// Whether each row is on the Pareto front; equal rows share the answer.
    public static func isParetoFront(_ rows: [[Double]]) -> [Bool] {
        let (distinct, inverse, _) = unique(rows)
        let front = isParetoFrontOfUniqueSorted(distinct)
        return inverse.map { front[$0] }
    }

    /// Non-domination ranks (0 = the front), exact for the best `below` distinct rows; the rest
    /// share the next rank (Optuna's `_calculate_nondomination_rank`).
    static func nondominationRanks(_ rows: [[Double]], below: Int) -> [Int] {
        guard !rows.isEmpty, below > 0 else { return [Int](repeating: 0, count: rows.count) }
        let distinct = unique(rows)
        var remaining = distinct.rows
        let total = remaining.count
        let wanted = min(below, total)
        var ranks = [Int](repeating: 0, count: total), indices = Array(0..<total), rank = 0
        while total - indices.count < wanted {
            let front = isParetoFrontOfUniqueSorted(remaining)
            for (position, index) in indices.enumerated() where front[position] { ranks[index] = rank }
            indices = indices.indices.filter { !front[$0] }.map { indices[$0] }
            remaining = remaining.indices.filter { !front[$0] }.map { remaining[$0] }
            rank += 1
        }
        for index in indices { ranks[index] = rank }
        return distinct.inverse.map { ranks[$0] }
    }

    /// `max(1.1·worst, 0.9·worst)` per objective, 0 replaced by `EPS`.
    static func referencePoint(_ rows: [[Double]]) -> [Double] {
        (0..<rows[0].count).map { column in
            let worst = rows.map { $0[column] }.max()!
            let point = max(1.1 * worst, 0.9 * worst)
            return point == 0 ? epsilon : point
        }
    }

    /// The hypervolume dominated by 2-D points (mutually non-dominated) up to `reference`.
    static func hypervolume(_ points: [[Double]], reference: [Double]) -> Double {
        guard !points.isEmpty else { return 0 }
        guard reference.allSatisfy(\.isFinite) else { return .infinity }
        let sorted = points.sorted { $0[0] < $1[0] }
        var volume = 0.0, ceiling = reference[1]
        for point in sorted {
            volume += (reference[0] - point[0]) * (ceiling - point[1])
            ceiling = point[1]
        }
        return volume
    }

    /// Greedy hypervolume subset selection of `size` of `rows` (Optuna's `_solve_hssp`, 2-D):
    /// positions in `rows`, in the order chosen (duplicates: the first of each value, then
    /// repeats in order, when there are fewer distinct values than `size`).
    static func subsetSelection(_ rows: [[Double]], size: Int, reference: [Double]) -> [Int] {
        if size == rows.count { return Array(rows.indices) }
        let (distinct, _, first) = unique(rows)
        if distinct.count < size {
            var chosen = Set(first)
            for index in rows.indices where !chosen.contains(index) && chosen.count < size { chosen.insert(index) }
            return rows.indices.filter { chosen.contains($0) }
        }
        guard reference.allSatisfy(\.isFinite) else { return Array(first.prefix(size)) }
        if distinct.count == size { return first }
        // Each remaining point's exclusive box up to its diagonal, shrunk as neighbours are taken.
        var positions = Array(distinct.indices), points = distinct
        var diagonals = [[Double]](repeating: reference, count: distinct.count)
        var selected: [Int] = []
        for _ in 0..<size {
            let contributions = points.indices.map { (diagonals[$0][0] - points[$0][0]) * (diagonals[$0][1] - points[$0][1]) }
            var best = 0
            for k in contributions.indices where contributions[k] > contributions[best] { best = k }
            selected.append(first[positions[best]])
            let taken = points[best]
            positions.remove(at: best); points.remove(at: best); diagonals.remove(at: best)
            for k in 0..<best { diagonals[k][0] = min(taken[0], diagonals[k][0]) }
            for k in best..<diagonals.count { diagonals[k][1] = min(taken[1], diagonals[k][1]) }
        }
        return selected
    }

    /// Which of the complete trials' loss rows form the below group of `count` (Optuna's
    /// `_split_complete_trials_multi_objective`): whole non-domination ranks while they fit, the
    /// next rank's remainder by hypervolume subset selection.
    static func splitBelow(_ rows: [[Double]], count: Int) -> Set<Int> {
        if count <= 0 { return [] }
        if count >= rows.count { return Set(rows.indices) }
        let ranks = nondominationRanks(rows, below: count)
        var taken = 0, lastWhole = -1
        for rank in Set(ranks).sorted() {
            let size = ranks.filter { $0 == rank }.count
            guard taken + size <= count else { break }
            (taken, lastWhole) = (taken + size, rank)
        }
        var below = Set(rows.indices.filter { ranks[$0] <= lastWhole })
        if below.count < count {
            let tied = rows.indices.filter { ranks[$0] == lastWhole + 1 }
            let tiedRows = tied.map { rows[$0] }
            for position in subsetSelection(tiedRows, size: count - below.count, reference: referencePoint(tiedRows)) {
                below.insert(tied[position])
            }
        }
        return below
    }

    /// Mixture weights of the below group's kernels: each trial's hypervolume contribution (the
    /// front's hypervolume without it subtracted) over the largest, at least `EPS`; ones for a
    /// group of one, or when the hypervolume is infinite.
    static func weightsBelow(_ rows: [[Double]]) -> [Double] {
        guard rows.count > 1 else { return [Double](repeating: 1, count: rows.count) }
        let reference = referencePoint(rows)
        let front = isParetoFront(rows)
        let paretoRows = rows.indices.filter { front[$0] }.map { rows[$0] }
        let volume = hypervolume(paretoRows, reference: reference)
        guard volume.isFinite else { return [Double](repeating: 1, count: rows.count) }
        var contributions = [Double](repeating: 0, count: rows.count)
        var k = 0
        for index in rows.indices where front[index] {
            var others = paretoRows
            others.remove(at: k)
            contributions[index] = volume - hypervolume(others, reference: reference)
            k += 1
        }
        let largest = max(contributions.max()!, epsilon)
        return contributions.map { max($0 / largest, epsilon) }
    }
}
