import Foundation
import Results
import Testing
import TestSupport
import Tuning

/// Faults across machines, injected for real on a PostgreSQL server of their own
/// (`BPFREE_TEST_POSTGRES_FAULTS`, which `.ci/run` starts as root): a worker on another "host"
/// (its own network namespace) loses its link mid-trial, and the server restarts mid-study.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["BPFREE_TEST_POSTGRES_FAULTS"] != nil && getuid() == 0))
struct ClusterFaultTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
    static let server = ProcessInfo.processInfo.environment["BPFREE_TEST_POSTGRES_FAULTS"] ?? ""

    /// A fresh schema on the fault server, as a URL through `host`.
    static func location(host: String = "127.0.0.1") throws -> String {
        let schema = "f_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try PostgreSQLDatabase(url: server, reconnectFor: 5).write { try $0.execute("CREATE SCHEMA \(schema)", []) }
        return server.replacingOccurrences(of: "@127.0.0.1:", with: "@\(host):") + "?options=-csearch_path%3D" + schema
    }

    /// `bpfree tune` on a slow-enough study (trials of a few seconds, heartbeats every 0.5 s).
    static func tune(_ location: String, study: String, extra: [String] = [], namespace: String? = nil) throws -> Process {
        let arguments = ["tune", "--algorithm", "bp", "--architecture", "mlp:32", "--dataset", "synthetic:samples=3000,classes=4,shape=8x8",
                         "--epochs", "30", "--patience", "30", "--trials", "5", "--threads", "1", "--study", study,
                         "--heartbeat-seconds", "0.5", "--store", location] + extra
        let process = Process()
        process.executableURL = URL(fileURLWithPath: namespace == nil ? binary : "/usr/sbin/ip")
        process.arguments = namespace.map { ["netns", "exec", $0, binary] + arguments } ?? arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        return process
    }

    /// The first running trial that has reported an epoch (and whose worker `accept`s), waiting up to 2 minutes.
    static func runningTrial(_ store: ResultsStore, study: String, accept: (FrozenTrial) -> Bool = { _ in true }) -> FrozenTrial? {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            if let found = try? store.study(named: study).flatMap({ try store.trials(ofStudy: $0.id!) })?
                .first(where: { $0.state == .running && !$0.intermediateValues.isEmpty && accept($0) }) {
                return found
            }
        }
        return nil
    }

    static func wait(_ process: Process, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// The study finished its budget of 5 with every number once, and every complete trial has its run.
    static func expectComplete(_ store: ResultsStore, study: String) throws -> [FrozenTrial] {
        let trials = try store.trials(ofStudy: try #require(try store.study(named: study)).id!)
        #expect(trials.map(\.number) == Array(0..<trials.count), "every number once")
        #expect(trials.filter { $0.state == .complete }.count == 5, "\(trials.map(\.state))")
        #expect(trials.filter { $0.state == .complete }.allSatisfy { $0.runID != nil })
        #expect(!trials.contains { $0.state == .running || $0.state == .waiting })
        return trials
    }

    /// Runs a shell command with its output discarded, through system(3): Foundation's
    /// `waitUntilExit` never returned for `pg_ctlcluster restart` (whose server outlives it).
    static func shell(_ command: String) throws {
        let status = system("(\(command)) > /dev/null 2>&1")
        guard status == 0 else { throw StoreError(path: "/bin/sh", problem: "'\(command)' exited with \(status)") }
    }

    /// Two workers in network namespaces of their own reach the server over veth links; one
    /// link is cut mid-trial: the other worker fails that trial as stale and runs it again.
    @Test func aWorkerCutOffMidTrialIsRetriedByTheOther() throws {
        let n = Int.random(in: 10...120)
        let (first, second) = ("bpf\(n)a", "bpf\(n)b")
        defer { try? Self.shell("ip netns del \(first); ip netns del \(second); ip link del bv\(n)a; ip link del bv\(n)b; true") }
        for (namespace, link, subnet) in [(first, "bv\(n)a", 2 * n), (second, "bv\(n)b", 2 * n + 1)] {
            try Self.shell("""
                ip netns add \(namespace) && ip link add \(link) type veth peer name \(link)p && ip link set \(link)p netns \(namespace) \
                && ip addr add 10.200.\(subnet).1/24 dev \(link) && ip link set \(link) up \
                && ip netns exec \(namespace) ip addr add 10.200.\(subnet).2/24 dev \(link)p \
                && ip netns exec \(namespace) ip link set \(link)p up && ip netns exec \(namespace) ip link set lo up
                """)
        }
        let local = try Self.location()
        let schemaQuery = String(local[local.range(of: "?")!.lowerBound...])
        let through = { (subnet: Int) in Self.server.replacingOccurrences(of: "@127.0.0.1:", with: "@10.200.\(subnet).1:") + schemaQuery }
        let cut = try Self.tune(through(2 * n), study: "cut", namespace: first)
        let store = try ResultsStore(location: local)
        let victim = try #require(Self.runningTrial(store, study: "cut"), "the first worker never reported an epoch")
        let other = try Self.tune(through(2 * n + 1), study: "cut", namespace: second)
        try Self.shell("ip netns exec \(first) ip link set bv\(n)ap down")
        Self.wait(other, seconds: 240)
        #expect(other.terminationStatus == 0)
        try Self.shell("ip netns exec \(first) ip link set bv\(n)ap up")
        Self.wait(cut, seconds: 60)

        let trials = try Self.expectComplete(store, study: "cut")
        let failed = try #require(trials.first { $0.id == victim.id })
        #expect(failed.state == .fail && failed.failureReason?.contains("stopped sending heartbeats") == true, "\(failed)")
        #expect(trials.contains { $0.retryOf == victim.id && $0.state == .complete })
    }

    /// The server restarts while two workers run trials: they reconnect with backoff and the
    /// study completes with every trial accounted for.
    @Test func theServerRestartsMidStudy() throws {
        let location = try Self.location()
        let tune = try Self.tune(location, study: "restart", extra: ["--workers", "2"])
        let store = try ResultsStore(location: location)
        _ = try #require(Self.runningTrial(store, study: "restart"), "no trial reported an epoch")
        try Self.shell("pg_ctlcluster 15 faults restart")
        Self.wait(tune, seconds: 240)
        #expect(tune.terminationStatus == 0)
        _ = try Self.expectComplete(store, study: "restart")
    }
}
