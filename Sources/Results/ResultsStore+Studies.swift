import Foundation
import GRDB
import Tuning

/// Studies and trials: the persistence side of tuning. Workers in several processes share one
/// study through these transactions (BEGIN IMMEDIATE, so a claim is atomic); the store decides
/// nothing, the `decide` closure of `claimTrial` (the study's sampler) does.
extension ResultsStore {
    /// Creates the study, or loads the stored one of that name when every setting agrees (a
    /// resume); the trial budget may change. The error names the first setting that differs.
    public func openStudy(_ study: StoredStudy) throws -> StoredStudy {
        try pool.writeWithoutTransaction { db in
            var result = study
            try db.inTransaction(.immediate) {
                if let row = try Row.fetchOne(db, sql: "SELECT * FROM study WHERE name = ?", arguments: [study.name]) {
                    let stored = Self.study(row)
                    let differences: [(String, String, String)] = [
                        ("algorithm", stored.algorithm, study.algorithm), ("dataset", stored.dataset, study.dataset),
                        ("architecture", stored.architecture, study.architecture), ("sampler", stored.sampler, study.sampler),
                        ("sampler seed", "\(stored.samplerSeed)", "\(study.samplerSeed)"), ("pruner", stored.pruner, study.pruner),
                        ("epochs per trial", "\(stored.epochsPerTrial)", "\(study.epochsPerTrial)"),
                        ("settings", stored.settingsJSON, study.settingsJSON),
                    ].filter { $0.1 != $0.2 }
                    if let (field, old, new) = differences.first {
                        throw StoreError(path: path, problem: "study '\(study.name)' exists with \(field) \(old), not \(new); "
                                         + "use another --study name to start a new study")
                    }
                    try db.execute(sql: "UPDATE study SET trial_budget = ? WHERE id = ?", arguments: [study.trialBudget, stored.id])
                    result = stored
                    result.trialBudget = study.trialBudget
                } else {
                    try db.execute(sql: """
                        INSERT INTO study (name, algorithm, dataset, architecture, sampler, sampler_seed, pruner, trial_budget,
                          epochs_per_trial, settings, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [study.name, study.algorithm, study.dataset, study.architecture, study.sampler,
                                         study.samplerSeed, study.pruner, study.trialBudget, study.epochsPerTrial,
                                         study.settingsJSON, study.createdAt])
                    result.id = db.lastInsertedRowID
                }
                return .commit
            }
            return result
        }
    }

    /// The study of that name, if stored.
    public func study(named name: String) throws -> StoredStudy? {
        try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM study WHERE name = ?", arguments: [name]).map(Self.study) }
    }

    /// Every study, oldest first.
    public func studies() throws -> [StoredStudy] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM study ORDER BY id").map(Self.study) }
    }

    /// The study's trials by number, with parameters and intermediate values.
    public func trials(ofStudy studyID: Int64) throws -> [FrozenTrial] {
        try pool.read { db in try Self.trials(db, studyID) }
    }

    /// In one transaction: fails the study's running trials whose heartbeat is older than
    /// `staleAfter` seconds (and queues a retry of each with the same parameters), then claims
    /// the oldest waiting trial, or creates trial number n with the parameters `decide` returns
    /// for the trials so far, as long as fewer than the budget are done or under way.
    public func claimTrial(studyID: Int64, workerID: String, now: Double = Date().timeIntervalSince1970,
                           staleAfter: Double,
                           decide: ([FrozenTrial], Int) -> [String: (value: Double, distribution: SearchDistribution)]) throws -> TrialClaim {
        try pool.writeWithoutTransaction { db in
            var claim = TrialClaim.done
            try db.inTransaction(.immediate) {
                let timestamp = Self.timestamp(now)
                for row in try Row.fetchAll(db, sql: """
                    SELECT id, worker_id, heartbeat FROM trial WHERE study_id = ? AND state = 'RUNNING' AND heartbeat < ?
                    """, arguments: [studyID, now - staleAfter]) {
                    let id: Int64 = row["id"], worker: String = row["worker_id"] ?? "?", heartbeat: Double = row["heartbeat"]
                    try db.execute(sql: "UPDATE trial SET state = 'FAIL', failure_reason = ?, completed_at = ? WHERE id = ?", arguments: [
                        "worker \(worker) stopped sending heartbeats (last one \(String(format: "%.0f", now - heartbeat)) s ago); retried",
                        timestamp, id])
                    let number = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trial WHERE study_id = ?", arguments: [studyID]) ?? 0
                    try db.execute(sql: "INSERT INTO trial (study_id, number, state, retry_of) VALUES (?, ?, 'WAITING', ?)",
                                   arguments: [studyID, number, id])
                    try db.execute(sql: """
                        INSERT INTO trial_param (trial_id, name, internal_value, external_value, distribution)
                        SELECT ?, name, internal_value, external_value, distribution FROM trial_param WHERE trial_id = ?
                        """, arguments: [db.lastInsertedRowID, id])
                }
                if let waiting = try Int64.fetchOne(db, sql: "SELECT id FROM trial WHERE study_id = ? AND state = 'WAITING' ORDER BY number LIMIT 1",
                                                    arguments: [studyID]) {
                    try db.execute(sql: "UPDATE trial SET state = 'RUNNING', worker_id = ?, heartbeat = ?, started_at = ? WHERE id = ?",
                                   arguments: [workerID, now, timestamp, waiting])
                    claim = .trial(try Self.trials(db, studyID).first { $0.id == waiting }!)
                    return .commit
                }
                let budget = try Int.fetchOne(db, sql: "SELECT trial_budget FROM study WHERE id = ?", arguments: [studyID]) ?? 0
                let counted = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM trial WHERE study_id = ? AND NOT (state = 'FAIL' AND id IN (SELECT retry_of FROM trial WHERE retry_of IS NOT NULL))
                    """, arguments: [studyID]) ?? 0
                if counted < budget {
                    let trials = try Self.trials(db, studyID)
                    let number = trials.count
                    try db.execute(sql: """
                        INSERT INTO trial (study_id, number, state, worker_id, heartbeat, started_at) VALUES (?, ?, 'RUNNING', ?, ?, ?)
                        """, arguments: [studyID, number, workerID, now, timestamp])
                    let id = db.lastInsertedRowID
                    for (name, parameter) in decide(trials, number).sorted(by: { $0.key < $1.key }) {
                        try db.execute(sql: "INSERT INTO trial_param (trial_id, name, internal_value, external_value, distribution) VALUES (?, ?, ?, ?, ?)",
                                       arguments: [id, name, parameter.value, parameter.distribution.external(parameter.value),
                                                   parameter.distribution.json])
                    }
                    claim = .trial(try Self.trials(db, studyID).first { $0.id == id }!)
                } else {
                    let running = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trial WHERE study_id = ? AND state = 'RUNNING'",
                                                   arguments: [studyID]) ?? 0
                    claim = running > 0 ? .wait : .done
                }
                return .commit
            }
            return claim
        }
    }

    /// Records that the worker still runs the trial; false when the trial is no longer its to run.
    @discardableResult
    public func recordHeartbeat(trialID: Int64, workerID: String, now: Double = Date().timeIntervalSince1970) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "UPDATE trial SET heartbeat = ? WHERE id = ? AND state = 'RUNNING' AND worker_id = ?",
                           arguments: [now, trialID, workerID])
            return db.changesCount > 0
        }
    }

    /// Stores an intermediate objective value (a second report for a step is ignored, as in
    /// Optuna); false when the trial is no longer running under this worker.
    @discardableResult
    public func reportIntermediate(trialID: Int64, workerID: String, step: Int, value: Double) throws -> Bool {
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT state = 'RUNNING' AND worker_id = ? FROM trial WHERE id = ?",
                                    arguments: [workerID, trialID]) == true else { return false }
            try db.execute(sql: "INSERT OR IGNORE INTO trial_intermediate (trial_id, step, value) VALUES (?, ?, ?)",
                           arguments: [trialID, step, value.isNaN ? nil : value])
            return true
        }
    }

    /// Finishes a trial: stores its run (if any) and sets state, value and reason, in one
    /// transaction. Returns false (storing the run all the same) when the trial was no longer
    /// running under this worker, e.g. failed as stale meanwhile.
    @discardableResult
    public func finishTrial(trialID: Int64, workerID: String, state: TrialState, value: Double?, failureReason: String?,
                            run: StoredRun?, now: Double = Date().timeIntervalSince1970) throws -> Bool {
        precondition(state.isFinished)
        return try pool.writeWithoutTransaction { db in
            var updated = false
            try db.inTransaction(.immediate) {
                let runID = try run.map { try Self.insert($0, db) }
                try db.execute(sql: """
                    UPDATE trial SET state = ?, value = ?, failure_reason = ?, completed_at = ?, run_id = ?
                    WHERE id = ? AND state = 'RUNNING' AND worker_id = ?
                    """, arguments: [state.rawValue, value.flatMap { $0.isNaN ? nil : $0 }, failureReason, Self.timestamp(now),
                                     runID, trialID, workerID])
                updated = db.changesCount > 0
                return .commit
            }
            return updated
        }
    }

    /// The seeds of the study's final runs already stored.
    public func finalRunSeeds(study: String) throws -> Set<Int64> {
        try pool.read { db in
            Set(try Int64.fetchAll(db, sql: "SELECT seed FROM run WHERE role = 'final' AND study = ?", arguments: [study]))
        }
    }

    /// The study's final runs (without their traces, epochs or stages), oldest first.
    public func finalRuns(study: String) throws -> [StoredRun] {
        try runs(where: "role = 'final' AND study = ?", arguments: [study], details: false)
    }

    static func trials(_ db: Database, _ studyID: Int64) throws -> [FrozenTrial] {
        var parameters: [Int64: [String: Double]] = [:], distributions: [Int64: [String: SearchDistribution]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT p.* FROM trial_param p JOIN trial t ON t.id = p.trial_id WHERE t.study_id = ?
            """, arguments: [studyID]) {
            let id: Int64 = row["trial_id"], name: String = row["name"]
            parameters[id, default: [:]][name] = row["internal_value"]
            distributions[id, default: [:]][name] = SearchDistribution(json: row["distribution"])
        }
        var intermediate: [Int64: [Int: Double]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT i.* FROM trial_intermediate i JOIN trial t ON t.id = i.trial_id WHERE t.study_id = ?
            """, arguments: [studyID]) {
            intermediate[row["trial_id"], default: [:]][row["step"]] = (row["value"] as Double?) ?? .nan
        }
        return try Row.fetchAll(db, sql: "SELECT * FROM trial WHERE study_id = ? ORDER BY number", arguments: [studyID]).map { row in
            let id: Int64 = row["id"]
            return FrozenTrial(id: id, number: row["number"], state: TrialState(rawValue: row["state"]) ?? .fail,
                               value: row["value"], parameters: parameters[id] ?? [:], distributions: distributions[id] ?? [:],
                               intermediateValues: intermediate[id] ?? [:], failureReason: row["failure_reason"],
                               workerID: row["worker_id"], heartbeat: row["heartbeat"], startedAt: row["started_at"],
                               completedAt: row["completed_at"], runID: row["run_id"], retryOf: row["retry_of"])
        }
    }

    static func study(_ row: Row) -> StoredStudy {
        var study = StoredStudy(name: row["name"], algorithm: row["algorithm"], dataset: row["dataset"],
                                architecture: row["architecture"], sampler: row["sampler"], samplerSeed: row["sampler_seed"],
                                pruner: row["pruner"], trialBudget: row["trial_budget"], epochsPerTrial: row["epochs_per_trial"],
                                settingsJSON: row["settings"], createdAt: row["created_at"])
        study.id = row["id"]
        return study
    }

    static func timestamp(_ unixTime: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: unixTime))
    }
}
