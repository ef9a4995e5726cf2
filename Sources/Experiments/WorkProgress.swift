/// k of N units of like work (a study's trials; a bench's trials and final runs) and the time
/// left at the pace of the units run here so far. Units found already done (a resumed study or
/// bench) count towards k but not towards the pace.
struct WorkProgress {
    let total: Int
    private(set) var done = 0
    private var ranHere = (count: 0, seconds: 0.0)

    init(total: Int) { self.total = total }

    /// `count` units finished; `seconds` is what running them here took (nil: found done).
    mutating func finished(_ count: Int, seconds: Double?) {
        done = min(total, done + count)
        if let seconds { ranHere = (ranHere.count + count, ranHere.seconds + seconds) }
    }

    /// "k/N <what>, about 3m10s left" (no estimate before the first unit run here).
    func line(_ what: String) -> String {
        let left = total - done
        guard left > 0, ranHere.count > 0 else { return "\(done)/\(total) \(what)" }
        return "\(done)/\(total) \(what), about \(ProgressReporter.duration(Double(left) * ranHere.seconds / Double(ranHere.count))) left"
    }
}
