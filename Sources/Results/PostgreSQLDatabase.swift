import CPostgreSQL
import Foundation
import Synchronization

/// The cluster backend: a PostgreSQL server that workers on many machines share, through
/// libpq (the server's own client library: synchronous like the rest of the store, no event
/// loop in a compute process, every server feature). One connection per store, used by one
/// thread at a time; a lost connection is re-established with backoff and the interrupted
/// transaction run again.
public final class PostgreSQLDatabase: SQLDatabase, @unchecked Sendable {
    public var dialect: SQLDialect { .postgresql }
    /// The URL without its password.
    public let location: String
    private let url: String
    private let connection: Mutex<OpaquePointer?>
    /// How long a worker keeps trying to reach the server before it gives up (seconds).
    let reconnectFor: Double

    /// Connects to `url` (`postgresql://user[:password]@host[:port]/database`, or anything
    /// libpq accepts).
    public init(url: String, reconnectFor: Double = 120) throws {
        self.url = Self.withConnectTimeout(url)
        location = Self.redacted(url)
        self.reconnectFor = reconnectFor
        connection = Mutex(nil)
        try connection.withLock { try self.connect(&$0) }
    }

    deinit {
        connection.withLock { if let conn = $0 { PQfinish(conn) } }
    }

    /// The URL with its password replaced by `***`: the `user:password@` part and the
    /// `password` query parameter libpq also reads. A URL that cannot be parsed is not shown.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "postgresql://(a URL that cannot be parsed)" }
        guard password(of: url) != nil else { return url }
        if components.password != nil { components.password = "***" }
        components.queryItems = components.queryItems?.map { $0.name == "password" ? URLQueryItem(name: $0.name, value: "***") : $0 }
        return components.string ?? "postgresql://***"
    }

    /// The URL without its password (in either place), and the password: a worker process gets
    /// the password in its environment (`PGPASSWORD`, which libpq reads), never on its command line.
    public static func splitPassword(_ url: String) -> (url: String, password: String?) {
        guard var components = URLComponents(string: url), let password = password(of: url) else { return (url, nil) }
        components.password = nil
        let query = components.queryItems?.filter { $0.name != "password" }
        components.queryItems = query?.isEmpty == true ? nil : query
        return (components.string ?? url, password)
    }

    /// Seconds a connection attempt may take when neither the URL (`connect_timeout`) nor the
    /// environment (`PGCONNECT_TIMEOUT`) says: libpq's own default is to wait forever, so a
    /// server that accepts the connection and never answers would hang the command silently.
    static let defaultConnectTimeout = 10

    /// The URL with `connect_timeout` added when neither it nor the environment sets one.
    static func withConnectTimeout(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard environment["PGCONNECT_TIMEOUT"] == nil, var components = URLComponents(string: url),
              !(components.queryItems ?? []).contains(where: { $0.name == "connect_timeout" }) else { return url }
        components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "connect_timeout", value: "\(defaultConnectTimeout)")]
        return components.string ?? url
    }

    /// The URL's password: its `user:password@` part, else its `password` query parameter.
    static func password(of url: String) -> String? {
        guard let components = URLComponents(string: url) else { return nil }
        return components.password ?? components.queryItems?.first { $0.name == "password" }?.value
    }

    private func connect(_ slot: inout OpaquePointer?) throws {
        if let old = slot { PQfinish(old) }
        slot = nil
        let conn = PQconnectdb(url)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let conn { PQfinish(conn) }
            throw SQLError(message: "cannot connect to \(location): \(Self.redactedMessage(message, url: url))")
        }
        // Naive UTC timestamps, as Optuna writes them; quiet notices.
        for setting in ["SET TIME ZONE 'UTC'", "SET client_min_messages TO warning"] {
            PQclear(PQexec(conn, setting))
        }
        slot = conn
    }

    /// A server message never repeats the password.
    static func redactedMessage(_ message: String, url: String) -> String {
        guard let password = password(of: url), !password.isEmpty else { return message }
        return message.replacingOccurrences(of: password, with: "***")
    }

    public func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        do { return try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body) } catch let error as SQLError {
            throw StoreError(path: location, problem: "cannot read the results store (\(error.message))")
        }
    }

    /// A failed write (a full disk on the server, a lost server) is rolled back whole and names the server.
    public func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        do { return try transaction("BEGIN", body) } catch let error as SQLError {
            throw StoreError(path: location, problem: "cannot write to the results store (\(error.message))")
        }
    }

    /// Runs `body` between `begin` and COMMIT. A lost connection is re-established (backoff
    /// 0.25 s doubling to 8 s, for `reconnectFor` seconds) and the transaction run again; so
    /// is one the server aborted as a deadlock or serialisation failure.
    ///
    /// NOTE: a connection lost during COMMIT leaves the outcome in doubt: the server may have
    /// committed before the reply was lost. Running the transaction again would then apply it
    /// twice (two trials claimed, a run stored twice), so a write first asks the server, by its
    /// transaction id, whether it committed (`txid_status`), and runs again only if it did not.
    private func transaction<T>(_ begin: String, _ body: (any SQLSession) throws -> T) throws -> T {
        let writes = !begin.hasSuffix("READ ONLY")
        return try connection.withLock { slot in
            let deadline = Date().addingTimeInterval(reconnectFor)
            var delay = 0.25
            var inDoubt: (transaction: Int64, result: T)?
            while true {
                do {
                    if slot == nil || PQstatus(slot) != CONNECTION_OK { try connect(&slot) }
                    let session = Session(conn: slot!, url: url)
                    if let doubt = inDoubt {
                        switch try session.row("SELECT txid_status(?) AS status", [doubt.transaction])?.text("status") {
                        case "committed": return doubt.result
                        case "in progress":  // the server has not yet noticed the lost connection
                            guard Date() < deadline else {
                                throw SQLError(message: "\(location): transaction \(doubt.transaction) is still in progress; its outcome is unknown")
                            }
                            Thread.sleep(forTimeInterval: 0.25)
                            continue
                        default: inDoubt = nil  // aborted, or too old to know: it did not happen
                        }
                    }
                    try session.execute(begin)
                    let result: T, transaction: Int64?
                    do {
                        transaction = writes ? try session.row("SELECT txid_current() AS id")?.integer("id") : nil
                        result = try body(session)
                    } catch {
                        if PQstatus(slot) == CONNECTION_OK { PQclear(PQexec(slot, "ROLLBACK")) }
                        throw error
                    }
                    do {
                        try session.execute("COMMIT")
                        let loseReply = writes && loseCommitReplies.withLock { count in
                            guard count > 0 else { return false }
                            count -= 1
                            return true
                        }
                        if loseReply {
                            PQfinish(slot)
                            slot = nil
                            throw SQLError(message: "server closed the connection unexpectedly (simulated after COMMIT)")
                        }
                    } catch {
                        if let transaction, slot.map({ PQstatus($0) != CONNECTION_OK }) ?? true { inDoubt = (transaction, result) }
                        throw error
                    }
                    return result
                } catch let error as SQLError where error.isRetryable || slot.map({ PQstatus($0) != CONNECTION_OK }) ?? true {
                    guard Date() < deadline else { throw error }
                    Thread.sleep(forTimeInterval: delay)
                    delay = min(delay * 2, 8)
                }
            }
        }
    }

    /// Tests: the next `count` write transactions commit and then lose their connection, as if
    /// the server's reply to COMMIT had been lost.
    let loseCommitReplies = Mutex(0)

    struct Session: SQLSession {
        let conn: OpaquePointer
        let url: String
        var dialect: SQLDialect { .postgresql }

        func execute(_ sql: String, _ arguments: [any SQLArgument]) throws {
            PQclear(try run(sql, arguments))
        }

        func rows(_ sql: String, _ arguments: [any SQLArgument]) throws -> [SQLRow] {
            let result = try run(sql, arguments)
            defer { PQclear(result) }
            let (rows, columns) = (PQntuples(result), PQnfields(result))
            let names = (0..<columns).map { String(cString: PQfname(result, $0)) }
            let types = (0..<columns).map { PQftype(result, $0) }
            return (0..<rows).map { r in
                var values: [String: SQLValue] = [:]
                for c in 0..<columns {
                    guard PQgetisnull(result, r, c) == 0 else { values[names[Int(c)]] = .null; continue }
                    let text = String(cString: PQgetvalue(result, r, c))
                    switch types[Int(c)] {
                    case 20, 21, 23: values[names[Int(c)]] = Int64(text).map { .integer($0) } ?? .text(text)
                    case 700, 701, 1700: values[names[Int(c)]] = Double(text).map { .real($0) } ?? .text(text)
                    case 16: values[names[Int(c)]] = .integer(text == "t" ? 1 : 0)
                    default: values[names[Int(c)]] = .text(text)
                    }
                }
                return SQLRow(values)
            }
        }

        /// Sends one statement with its `?` placeholders numbered `$1…` and the values as text.
        private func run(_ sql: String, _ arguments: [any SQLArgument]) throws -> OpaquePointer? {
            let texts: [String?] = arguments.map {
                switch $0.sqlValue {
                case .null: nil
                case .integer(let n): String(n)
                case .real(let x): x.isFinite ? "\(x)" : (x.isNaN ? "NaN" : x > 0 ? "Infinity" : "-Infinity")
                case .text(let s): s
                }
            }
            let statement = Self.numbered(sql)
            let result: OpaquePointer? = withArrayOfCStrings(texts) { pointers in
                PQexecParams(conn, statement, Int32(texts.count), nil, pointers, nil, nil, 0)
            }
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
                let message = String(cString: PQresultErrorMessage(result) ?? PQerrorMessage(conn))
                let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
                PQclear(result)
                throw SQLError(message: PostgreSQLDatabase.redactedMessage(message.trimmingCharacters(in: .whitespacesAndNewlines), url: url),
                               sqlState: state)
            }
            return result
        }

        /// `?` placeholders as `$1, $2, …` (a `?` inside a quoted literal or identifier stays).
        static func numbered(_ sql: String) -> String {
            var out = "", n = 0, quote: Character?
            for character in sql {
                if let q = quote {
                    if character == q { quote = nil }
                    out.append(character)
                } else if character == "'" || character == "\"" {
                    quote = character
                    out.append(character)
                } else if character == "?" {
                    n += 1
                    out += "$\(n)"
                } else {
                    out.append(character)
                }
            }
            return out
        }
    }
}

extension SQLError {
    /// An error with the server's SQLSTATE code.
    init(message: String, sqlState: String?) {
        self.init(message: message + (sqlState.map { " [\($0)]" } ?? ""))
    }

    /// A deadlock (40P01) or serialisation failure (40001): the transaction may simply be run again.
    var isRetryable: Bool { message.hasSuffix("[40P01]") || message.hasSuffix("[40001]") }
}

/// Calls `body` with C strings of `strings` (nil stays NULL), valid only during the call.
private func withArrayOfCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0)! } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
