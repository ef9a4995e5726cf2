import Foundation
import Records
import Tuning

/// Studies and trials: the persistence side of tuning, in Optuna's own tables (`OptunaSchema`)
/// so that `optuna.load_study` and optuna-dashboard read a bpfree study as one of theirs.
/// Workers in several processes share one study through these transactions (BEGIN IMMEDIATE,
/// so a claim is atomic); the store decides nothing, the `decide` closure of `claimTrial` (the
/// study's sampler) does.
///
/// What Optuna has no column for is kept where Optuna keeps such facts: the study's settings in
/// its user attributes, a trial's worker, failure reason, run id, time and energy in the trial's
/// user attributes (the dashboard shows both), and a retry's lineage in the system attributes
/// `failed_trial` and `retry_history`, as Optuna's `RetryFailedTrialCallback` writes them.
extension ResultsStore {
    /// Creates the study, or loads the stored one of that name when every setting agrees (a
    /// resume); the trial budget may change. The error names the first setting that differs.
    /// Refuses to write studies into Optuna tables of another schema than the one bpfree
    /// writes (a newer Optuna's, whose readers would misread them): the error names both.
    func checkOptunaSchema(_ db: any SQLSession) throws {
        let version = try db.row("SELECT schema_version FROM version_info WHERE version_info_id = 1", [])?.integer("schema_version").map(Int.init)
        let revisions = try db.rows("SELECT version_num FROM alembic_version", []).compactMap { $0.text("version_num") }
        guard version == OptunaSchema.schemaVersion, revisions == [OptunaSchema.alembicRevision] else {
            throw StoreError(path: path, problem: "its Optuna tables are schema version \(version.map(String.init) ?? "none") "
                             + "(alembic \(revisions.isEmpty ? "none" : revisions.joined(separator: ", "))); bpfree writes only "
                             + "schema \(OptunaSchema.schemaVersion) (alembic \(OptunaSchema.alembicRevision), Optuna 4.x), so it does not write to this store")
        }
    }

    public func openStudy(_ study: StoredStudy) throws -> StoredStudy {
        try database.write { db in
            var result = study
            try db.lockStudies()
            try checkOptunaSchema(db)
            if let id = try db.row("SELECT study_id FROM studies WHERE study_name = ?", [study.name])?.integer("study_id") {
                guard let stored = try Self.study(db, id: id) else {
                    throw StoreError(path: path, problem: "study '\(study.name)' exists but was not made by bpfree; use another --study name")
                }
                let differences: [(String, String, String)] = [
                    ("algorithm", stored.algorithm, study.algorithm), ("dataset", stored.dataset, study.dataset),
                    ("architecture", stored.architecture, study.architecture), ("sampler", stored.sampler, study.sampler),
                    ("sampler seed", "\(stored.samplerSeed)", "\(study.samplerSeed)"), ("pruner", stored.pruner, study.pruner),
                    ("epochs per trial", "\(stored.epochsPerTrial)", "\(study.epochsPerTrial)"),
                    ("settings", stored.settingsJSON, study.settingsJSON),
                    ("objectives", stored.objectives.map(\.name).joined(separator: ","), study.objectives.map(\.name).joined(separator: ",")),
                ].filter { $0.1 != $0.2 }
                if let (field, old, new) = differences.first {
                    throw StoreError(path: path, problem: "study '\(study.name)' exists with \(field) \(old), not \(new); "
                                     + "use another --study name to start a new study")
                }
                try Self.setAttribute(db, .study, id, StudyKey.trialBudget, .integer(study.trialBudget))
                try Self.setAttribute(db, .studySystem, id, StudyKey.metricNames, StudyKey.metricNames(stored.objectives))
                result = stored
                result.trialBudget = study.trialBudget
            } else {
                result.id = try Self.insertStudy(study, db)
            }
            return result
        }
    }

    /// Inserts a study with its direction and settings; returns its id.
    static func insertStudy(_ study: StoredStudy, _ db: any SQLSession, id: Int64? = nil) throws -> Int64 {
        let id = try id.map { try db.insert("INSERT INTO studies (study_id, study_name) VALUES (?, ?)", [$0, study.name], returning: "study_id") }
            ?? db.insert("INSERT INTO studies (study_name) VALUES (?)", [study.name], returning: "study_id")
        for (index, objective) in study.objectives.enumerated() {
            try db.execute("INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, ?)", [objective.direction.rawValue, id, index])
        }
        try setAttribute(db, .studySystem, id, StudyKey.metricNames, StudyKey.metricNames(study.objectives))
        let settings: [(String, AttributeValue)] = [
            (StudyKey.algorithm, .text(study.algorithm)), (StudyKey.dataset, .text(study.dataset)),
            (StudyKey.architecture, .text(study.architecture)), (StudyKey.sampler, .text(study.sampler)),
            (StudyKey.samplerSeed, .integer(Int(study.samplerSeed))), (StudyKey.pruner, .text(study.pruner)),
            (StudyKey.trialBudget, .integer(study.trialBudget)), (StudyKey.epochsPerTrial, .integer(study.epochsPerTrial)),
            (StudyKey.settings, .json(study.settingsJSON)), (StudyKey.createdAt, .text(study.createdAt)),
        ]
        for (key, value) in settings { try setAttribute(db, .study, id, key, value) }
        return id
    }

    /// The study of that name, if stored by bpfree.
    public func study(named name: String) throws -> StoredStudy? {
        try database.read { db in
            try db.row("SELECT study_id FROM studies WHERE study_name = ?", [name])?.integer("study_id").flatMap { try Self.study(db, id: $0) }
        }
    }

    /// Every study bpfree made, oldest first (studies Optuna itself made in the same file are left out).
    public func studies() throws -> [StoredStudy] {
        try database.read { db in
            try db.rows("SELECT study_id FROM studies ORDER BY study_id", []).compactMap { try $0.integer("study_id").flatMap { try Self.study(db, id: $0) } }
        }
    }

    /// The study's trials by number, with parameters and intermediate values.
    public func trials(ofStudy studyID: Int64) throws -> [FrozenTrial] {
        try database.read { db in try Self.trials(db, studyID) }
    }

    /// In one transaction: fails the study's running trials whose heartbeat is older than
    /// `staleAfter` seconds (and queues a retry of each with the same parameters), then claims
    /// the oldest waiting trial, or creates trial number n with the parameters `decide` returns
    /// for the trials so far, as long as fewer than the budget are done or under way.
    public func claimTrial(studyID: Int64, workerID: String, now: Double? = nil,
                           staleAfter: Double,
                           decide: ([FrozenTrial], Int) -> [String: (value: Double, distribution: SearchDistribution)]) throws -> TrialClaim {
        try database.write { db in
            try db.lockStudy(studyID)
            let now = try now ?? db.serverTime()
            var trials = try Self.trials(db, studyID)
            for stale in trials where stale.state == .running && (stale.heartbeat ?? .infinity) < now - staleAfter {
                try Self.failStaleTrial(stale, of: trials, studyID: studyID, now: now, db)
                trials = try Self.trials(db, studyID)
            }
            for waiting in trials where waiting.state == .waiting {
                // A trial enqueued through Optuna (enqueue_trial) has its parameters in
                // `fixed_params` and none in trial_params yet: those it names are used, the rest
                // sampled; one the search space lacks fails the trial, naming it.
                var parameters: [String: (value: Double, distribution: SearchDistribution)] = [:]
                if waiting.parameters.isEmpty, let fixed = try Self.fixedParameters(db, trialID: waiting.id) {
                    let proposed = decide(trials, waiting.number)
                    let unknown = fixed.keys.filter { proposed[$0] == nil || fixed[$0]! == nil }.sorted()
                    guard unknown.isEmpty else {
                        try db.execute("UPDATE trials SET state = 'FAIL', datetime_start = ?, datetime_complete = ? WHERE trial_id = ?",
                                       [Self.timestamp(now), Self.timestamp(now), waiting.id])
                        try Self.setAttribute(db, .trial, waiting.id, TrialKey.failureReason, .text(
                            "enqueued parameters not searched by this study or not numbers: \(unknown.joined(separator: ", ")); "
                            + "searched: \(proposed.keys.sorted().joined(separator: ", "))"))
                        continue
                    }
                    parameters = proposed
                    for (name, value) in fixed { parameters[name]!.value = value! }
                }
                try db.execute("UPDATE trials SET state = 'RUNNING', datetime_start = ? WHERE trial_id = ?", [Self.timestamp(now), waiting.id])
                try Self.start(trialID: waiting.id, workerID: workerID, now: now, db)
                for (name, parameter) in parameters.sorted(by: { $0.key < $1.key }) {
                    try db.execute("INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)",
                                   [waiting.id, name, parameter.value, parameter.distribution.json])
                }
                return .trial(try Self.trials(db, studyID).first { $0.id == waiting.id }!)
            }
            let budget = try Self.study(db, id: studyID)?.trialBudget ?? 0
            if trials.countedTowardsBudget.count < budget {
                let number = trials.count
                let id = try db.insert("INSERT INTO trials (number, study_id, state, datetime_start) VALUES (?, ?, 'RUNNING', ?)",
                                       [number, studyID, Self.timestamp(now)], returning: "trial_id")
                try Self.start(trialID: id, workerID: workerID, now: now, db)
                for (name, parameter) in decide(trials, number).sorted(by: { $0.key < $1.key }) {
                    try db.execute("INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)", [id, name, parameter.value, parameter.distribution.json])
                }
                return .trial(try Self.trials(db, studyID).first { $0.id == id }!)
            } else {
                return trials.contains { $0.state == .running } ? .wait : .done
            }
        }
    }

    /// The `fixed_params` of an enqueued trial, each a number or nil (not a number); nil when
    /// the trial has none.
    private static func fixedParameters(_ db: any SQLSession, trialID: Int64) throws -> [String: Double?]? {
        guard let text = try db.row("SELECT value_json FROM trial_system_attributes WHERE trial_id = ? AND \"key\" = ?",
                                    [trialID, TrialKey.fixedParameters])?.text("value_json"),
              let object = decodeJSON(text) as? [String: Any] else { return nil }
        return object.mapValues { $0 is Bool ? nil : ($0 as? Double) ?? ($0 as? Int).map(Double.init) }
    }

    /// Fails a trial whose worker went silent and queues its retry.
    private static func failStaleTrial(_ trial: FrozenTrial, of trials: [FrozenTrial], studyID: Int64, now: Double, _ db: any SQLSession) throws {
        let silence = String(format: "%.0f", now - (trial.heartbeat ?? now))
        try failAndRetry(trial, reason: "worker \(trial.workerID ?? "?") stopped sending heartbeats (last one \(silence) s ago); retried",
                         of: trials, studyID: studyID, now: now, db)
    }

    /// Gives a trial back to its study, in one transaction: stores its run (if any), fails the
    /// trial for `reason` and queues a retry with the same parameters, so that the trial does not
    /// count towards the budget (a worker stopped by a signal). False when the trial was no longer
    /// running under this worker.
    @discardableResult
    public func giveBackTrial(trialID: Int64, studyID: Int64, workerID: String, reason: String, run: StoredRun?,
                              now: Double? = nil) throws -> Bool {
        try database.write { db in
            try db.lockStudy(studyID)
            let now = try now ?? db.serverTime()
            let runID = try run.map { try Self.insert($0, db) }
            let trials = try Self.trials(db, studyID)
            guard try Self.isRunning(trialID, under: workerID, db), let trial = trials.first(where: { $0.id == trialID }) else { return false }
            try Self.failAndRetry(trial, reason: reason + "; given back and retried", of: trials, studyID: studyID, now: now, db)
            if let runID { try Self.setAttribute(db, .trial, trialID, TrialKey.runID, .integer(Int(runID))) }
            return true
        }
    }

    /// Fails a trial and queues its retry (same parameters, Optuna's retry attributes:
    /// `failed_trial` is the first trial of the chain, `retry_history` every one).
    private static func failAndRetry(_ trial: FrozenTrial, reason: String, of trials: [FrozenTrial], studyID: Int64, now: Double,
                                     _ db: any SQLSession) throws {
        try db.execute("UPDATE trials SET state = 'FAIL', datetime_complete = ? WHERE trial_id = ?", [timestamp(now), trial.id])
        try setAttribute(db, .trial, trial.id, TrialKey.failureReason, .text(reason))
        let retry = try db.insert("INSERT INTO trials (number, study_id, state) VALUES (?, ?, 'WAITING')", [trials.count, studyID],
                                  returning: "trial_id")
        try db.execute("""
            INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
            SELECT ?, param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ?
            """, [retry, trial.id])
        let history = try retryHistory(db, trial.id) + [trial.number]
        try setAttribute(db, .trialSystem, retry, TrialKey.failedTrial, .integer(history[0]))
        try setAttribute(db, .trialSystem, retry, TrialKey.retryHistory, .json("[" + history.map(String.init).joined(separator: ", ") + "]"))
    }

    /// Marks a trial as this worker's and records its first heartbeat.
    private static func start(trialID: Int64, workerID: String, now: Double, _ db: any SQLSession) throws {
        try setAttribute(db, .trial, trialID, TrialKey.worker, .text(workerID))
        try db.execute("""
            INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, ?)
            ON CONFLICT (trial_id) DO UPDATE SET heartbeat = excluded.heartbeat
            """, [trialID, timestamp(now)])
    }

    /// Whether the trial is running under this worker.
    private static func isRunning(_ trialID: Int64, under workerID: String, _ db: any SQLSession) throws -> Bool {
        try db.row("""
            SELECT t.state = 'RUNNING' AND a.value_json = ? AS mine FROM trials t
            JOIN trial_user_attributes a ON a.trial_id = t.trial_id AND a."key" = ? WHERE t.trial_id = ?
            """, [AttributeValue.text(workerID).json, TrialKey.worker, trialID])?.bool("mine") == true
    }

    /// Records that the worker still runs the trial; false when the trial is no longer its to run.
    @discardableResult
    public func recordHeartbeat(trialID: Int64, workerID: String, now: Double? = nil) throws -> Bool {
        try database.write { db in
            guard try Self.isRunning(trialID, under: workerID, db) else { return false }
            let now = try now ?? db.serverTime()
            try db.execute("UPDATE trial_heartbeats SET heartbeat = ? WHERE trial_id = ?", [Self.timestamp(now), trialID])
            return true
        }
    }

    /// Stores an intermediate objective value (a second report for a step is ignored, as in
    /// Optuna); false when the trial is no longer running under this worker.
    @discardableResult
    public func reportIntermediate(trialID: Int64, workerID: String, step: Int, value: Double) throws -> Bool {
        try database.write { db in
            guard try Self.isRunning(trialID, under: workerID, db) else { return false }
            let (stored, type) = Self.optunaValue(value, allowingNaN: true)
            try db.execute("""
                INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) VALUES (?, ?, ?, ?)
                ON CONFLICT (trial_id, step) DO NOTHING
                """, [trialID, step, stored, type])
            return true
        }
    }

    /// Finishes a trial: stores its run (if any) and sets state, value and reason, in one
    /// transaction. Returns false (storing the run all the same) when the trial was no longer
    /// running under this worker, e.g. failed as stale meanwhile. A failed trial keeps no value,
    /// as in Optuna; a complete one must have a finite value.
    @discardableResult
    public func finishTrial(trialID: Int64, workerID: String, state: TrialState, value: Double?, failureReason: String?,
                            run: StoredRun?, now: Double? = nil) throws -> Bool {
        try finishTrial(trialID: trialID, workerID: workerID, state: state, values: value.map { [$0] }, failureReason: failureReason,
                        run: run, now: now)
    }

    /// Finishes a trial of a study with several objectives: one value per objective (Optuna's
    /// `trial_values` rows, objective 0, 1, …); as `finishTrial(value:)` otherwise.
    @discardableResult
    public func finishTrial(trialID: Int64, workerID: String, state: TrialState, values: [Double]?, failureReason: String?,
                            run: StoredRun?, now: Double? = nil) throws -> Bool {
        precondition(state.isFinished)
        precondition(state != .complete || values?.allSatisfy(\.isFinite) == true, "a COMPLETE trial needs finite values")
        return try database.write { db in
            let now = try now ?? db.serverTime()
            let runID = try run.map { try Self.insert($0, db) }
            guard try Self.isRunning(trialID, under: workerID, db) else { return false }
            try db.execute("UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?", [state.rawValue, Self.timestamp(now), trialID])
            if state != .fail, let values {
                for (objective, value) in values.enumerated() where !value.isNaN {
                    let (stored, type) = Self.optunaValue(value, allowingNaN: false)
                    try db.execute("INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)",
                                   [trialID, objective, stored, type])
                }
            }
            var facts: [(String, AttributeValue)] = []
            if let failureReason { facts.append((TrialKey.failureReason, .text(failureReason))) }
            if let runID, let run {
                facts += [(TrialKey.runID, .integer(Int(runID))), (TrialKey.trainSeconds, .real(run.trainSeconds))]
                if let joules = run.energyJoules { facts.append((TrialKey.energyJoules, .real(joules))) }
                if let source = run.energySource { facts.append((TrialKey.energySource, .text(source))) }
            }
            for (key, value) in facts { try Self.setAttribute(db, .trial, trialID, key, value) }
            return true
        }
    }

    /// The seeds of the study's final runs already stored (an interrupted one is to be run again).
    public func finalRunSeeds(study: String) throws -> Set<Int64> {
        try database.read { db in
            Set(try db.rows("SELECT seed FROM run WHERE role = ? AND study = ? AND status != ?",
                            [RunRole.final.rawValue, study, RunStatus.interrupted.rawValue]).compactMap { $0.integer("seed") })
        }
    }

    /// The study's final runs (without their traces, and without those a signal interrupted), oldest first.
    public func finalRuns(study: String) throws -> [StoredRun] {
        try runs(where: "role = ? AND study = ? AND status != ?", arguments: [RunRole.final.rawValue, study, RunStatus.interrupted.rawValue],
                 withTrace: false)
    }

    static func trials(_ db: any SQLSession, _ studyID: Int64) throws -> [FrozenTrial] {
        var parameters: [Int64: [String: Double]] = [:], distributions: [Int64: [String: SearchDistribution]] = [:]
        for row in try db.rows("""
            SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p
            JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = ?
            """, [studyID]) {
            guard let id = row.integer("trial_id"), let name = row.text("param_name") else { continue }
            parameters[id, default: [:]][name] = row.real("param_value")
            distributions[id, default: [:]][name] = row.text("distribution_json").flatMap(SearchDistribution.init(json:))
        }
        var intermediate: [Int64: [Int: Double]] = [:]
        for row in try db.rows("""
            SELECT i.trial_id, i.step, i.intermediate_value, i.intermediate_value_type FROM trial_intermediate_values i
            JOIN trials t ON t.trial_id = i.trial_id WHERE t.study_id = ?
            """, [studyID]) {
            guard let id = row.integer("trial_id"), let step = row.int("step") else { continue }
            intermediate[id, default: [:]][step] = value(row.real("intermediate_value"), type: row.text("intermediate_value_type") ?? "")
        }
        var values: [Int64: [Int: Double]] = [:]
        for row in try db.rows("""
            SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v
            JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ?
            """, [studyID]) {
            guard let id = row.integer("trial_id"), let objective = row.int("objective") else { continue }
            values[id, default: [:]][objective] = value(row.real("value"), type: row.text("value_type") ?? "")
        }
        var heartbeats: [Int64: Double] = [:]
        for row in try db.rows("""
            SELECT h.trial_id, h.heartbeat FROM trial_heartbeats h JOIN trials t ON t.trial_id = h.trial_id WHERE t.study_id = ?
            """, [studyID]) {
            guard let id = row.integer("trial_id") else { continue }
            heartbeats[id] = unixTime(row.text("heartbeat"))
        }
        var attributes: [Int64: [String: String]] = [:]
        for table in ["trial_user_attributes", "trial_system_attributes"] {
            for row in try db.rows("""
                SELECT a.trial_id, a."key", a.value_json FROM \(table) a JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = ?
                """, [studyID]) {
                guard let id = row.integer("trial_id"), let key = row.text("key") else { continue }
                attributes[id, default: [:]][key] = row.text("value_json")
            }
        }
        let rows = try db.rows("""
            SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials WHERE study_id = ? ORDER BY number, trial_id
            """, [studyID])
        let idOfNumber = Dictionary(rows.compactMap { row in row.int("number").map { ($0, row.integer("trial_id")!) } },
                                    uniquingKeysWith: { first, _ in first })
        return rows.map { row in
            let id = row.integer("trial_id")!
            let facts = attributes[id] ?? [:]
            let previous = facts[TrialKey.retryHistory].flatMap(decodeJSON).flatMap { ($0 as? [Any])?.last as? Int }
            return FrozenTrial(id: id, number: row.int("number") ?? 0, state: TrialState(rawValue: row.text("state") ?? "") ?? .fail,
                               values: values[id].flatMap { byObjective in
                                   byObjective.keys.sorted() == Array(0..<byObjective.count) ? byObjective.keys.sorted().map { byObjective[$0]! } : nil
                               }, parameters: parameters[id] ?? [:], distributions: distributions[id] ?? [:],
                               intermediateValues: intermediate[id] ?? [:],
                               failureReason: facts[TrialKey.failureReason].flatMap(decodeJSON) as? String,
                               workerID: facts[TrialKey.worker].flatMap(decodeJSON) as? String, heartbeat: heartbeats[id],
                               startedAt: row.text("datetime_start"), completedAt: row.text("datetime_complete"),
                               runID: (facts[TrialKey.runID].flatMap(decodeJSON) as? NSNumber)?.int64Value,
                               retryOf: previous.flatMap { idOfNumber[$0] })
        }
    }

    /// The study with its bpfree settings; nil for a study bpfree did not make.
    static func study(_ db: any SQLSession, id: Int64) throws -> StoredStudy? {
        guard let name = try db.row("SELECT study_name FROM studies WHERE study_id = ?", [id])?.text("study_name") else { return nil }
        var raw: [String: String] = [:]
        for row in try db.rows("SELECT \"key\", value_json FROM study_user_attributes WHERE study_id = ?", [id]) {
            if let key = row.text("key") { raw[key] = row.text("value_json") }
        }
        let facts = raw.compactMapValues(decodeJSON)
        guard let algorithm = facts[StudyKey.algorithm] as? String, let dataset = facts[StudyKey.dataset] as? String,
              let architecture = facts[StudyKey.architecture] as? String, let sampler = facts[StudyKey.sampler] as? String,
              let seed = facts[StudyKey.samplerSeed] as? NSNumber, let pruner = facts[StudyKey.pruner] as? String,
              let budget = facts[StudyKey.trialBudget] as? NSNumber, let epochs = facts[StudyKey.epochsPerTrial] as? NSNumber,
              let settings = raw[StudyKey.settings], let created = facts[StudyKey.createdAt] as? String else { return nil }
        var study = StoredStudy(name: name, algorithm: algorithm, dataset: dataset, architecture: architecture, sampler: sampler,
                                samplerSeed: seed.int64Value, pruner: pruner, trialBudget: budget.intValue,
                                epochsPerTrial: epochs.intValue, settingsJSON: settings, createdAt: created)
        // The directions by objective, named by Optuna's metric names (a study of earlier
        // builds: one, validation accuracy).
        let directions = try db.rows("SELECT direction, objective FROM study_directions WHERE study_id = ? ORDER BY objective", [id])
            .compactMap { $0.text("direction").flatMap(StudyDirection.init(rawValue:)) }
        let namesJSON = try db.row("SELECT value_json FROM study_system_attributes WHERE study_id = ? AND \"key\" = ?",
                                   [id, StudyKey.metricNames])?.text("value_json")
        let names = (namesJSON.flatMap(decodeJSON) as? [String]) ?? []
        if !directions.isEmpty {
            study.objectives = directions.enumerated().map { index, direction in
                StudyObjective(name: index < names.count ? names[index] : "objective \(index)", direction: direction)
            }
        }
        study.id = id
        return study
    }

    /// The number of the trial this one retries, and so on back (Optuna's `retry_history`).
    private static func retryHistory(_ db: any SQLSession, _ trialID: Int64) throws -> [Int] {
        let json = try db.row("SELECT value_json FROM trial_system_attributes WHERE trial_id = ? AND \"key\" = ?",
                              [trialID, TrialKey.retryHistory])?.text("value_json")
        return (json.flatMap(decodeJSON) as? [Int]) ?? []
    }

    /// Naive UTC with microseconds, as Optuna's DATETIME columns hold it ("2026-12-02 06:58:10.927825").
    static func timestamp(_ unixTime: Double) -> String {
        var seconds = time_t(unixTime.rounded(.down)), parts = tm()
        gmtime_r(&seconds, &parts)
        let micros = Int(((unixTime - unixTime.rounded(.down)) * 1e6).rounded(.down))
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%06d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, micros)
    }

    /// The Unix time of a naive UTC timestamp (`timestamp`'s form, fraction optional), or of an
    /// ISO 8601 one (stores of schema v2).
    static func unixTime(_ text: String?) -> Double? {
        guard let text else { return nil }
        if let date = ISO8601DateFormatter().date(from: text) { return date.timeIntervalSince1970 }
        let pieces = text.split(separator: ".", maxSplits: 1)
        let fields = pieces[0].split(whereSeparator: { "-: T".contains($0) }).compactMap { Int32($0) }
        guard fields.count == 6 else { return nil }
        var parts = tm()
        (parts.tm_year, parts.tm_mon, parts.tm_mday) = (fields[0] - 1900, fields[1] - 1, fields[2])
        (parts.tm_hour, parts.tm_min, parts.tm_sec) = (fields[3], fields[4], fields[5])
        return Double(timegm(&parts)) + (pieces.count > 1 ? Double("0." + pieces[1]) ?? 0 : 0)
    }

    /// A value as Optuna stores it: finite values as they are, ±inf (and NaN for intermediate
    /// values) as NULL with a type.
    static func optunaValue(_ x: Double, allowingNaN: Bool) -> (Double?, String) {
        if x.isNaN { return (nil, allowingNaN ? "NAN" : "FINITE") }
        if x == .infinity { return (nil, "INF_POS") }
        if x == -.infinity { return (nil, "INF_NEG") }
        return (x, "FINITE")
    }

    static func value(_ stored: Double?, type: String) -> Double {
        switch type {
        case "INF_POS": .infinity
        case "INF_NEG": -.infinity
        case "NAN": .nan
        default: stored ?? .nan
        }
    }

    private static func decodeJSON(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// The attribute tables bpfree writes.
    enum AttributeTable: String {
        case study = "study_user_attributes", studySystem = "study_system_attributes"
        case trial = "trial_user_attributes", trialSystem = "trial_system_attributes"
        var owner: String { self == .study || self == .studySystem ? "study_id" : "trial_id" }
    }

    /// An attribute value, written as the JSON Optuna's `json.dumps` would write.
    enum AttributeValue {
        case text(String), integer(Int), real(Double), json(String)
        var json: String {
            switch self {
            case .text(let s):
                String(decoding: try! JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed, .withoutEscapingSlashes]), as: UTF8.self)
            case .integer(let n): String(n)
            case .real(let x): x.isFinite ? "\(x)" : (x.isNaN ? "NaN" : x > 0 ? "Infinity" : "-Infinity")
            case .json(let text): text
            }
        }
    }

    /// Sets (or replaces) one attribute of a study or trial.
    static func setAttribute(_ db: any SQLSession, _ table: AttributeTable, _ owner: Int64, _ key: String, _ value: AttributeValue) throws {
        try db.execute("""
            INSERT INTO \(table.rawValue) (\(table.owner), "key", value_json) VALUES (?, ?, ?)
            ON CONFLICT (\(table.owner), "key") DO UPDATE SET value_json = excluded.value_json
            """, [owner, key, value.json])
    }

    /// The study user attributes that hold a bpfree study's settings.
    enum StudyKey {
        static let algorithm = "algorithm", dataset = "dataset", architecture = "architecture", sampler = "sampler"
        static let samplerSeed = "sampler_seed", pruner = "pruner", trialBudget = "trial_budget"
        static let epochsPerTrial = "epochs_per_trial", settings = "settings", createdAt = "created_at"
        /// Optuna's system attribute behind `study.metric_names` (what optuna-dashboard labels the value with).
        static let metricNames = "study:metric_names"
        /// The value of `metricNames`: the objectives' names as a JSON list.
        static func metricNames(_ objectives: [StudyObjective]) -> AttributeValue {
            .json("[" + objectives.map { "\"\($0.name)\"" }.joined(separator: ", ") + "]")
        }
    }

    /// The trial attributes bpfree writes (user ones, and Optuna's retry system attributes).
    enum TrialKey {
        static let worker = "worker", failureReason = "failure_reason", runID = "run_id", trainSeconds = "train_seconds"
        static let energyJoules = "energy_joules", energySource = "energy_source"
        static let failedTrial = "failed_trial", retryHistory = "retry_history"
        /// Optuna's system attribute of an enqueued trial (`study.enqueue_trial`): its parameters.
        static let fixedParameters = "fixed_params"
    }
}
