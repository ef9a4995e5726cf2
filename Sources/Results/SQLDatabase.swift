import Foundation

/// The little of a SQL database bpfree's store needs, with one implementation per backend
/// (`SQLiteDatabase`, `PostgreSQLDatabase`): the store's queries are written once, in the SQL
/// both speak (`?` placeholders, `ON CONFLICT` upserts, `RETURNING`).
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Where the database is, as shown in messages (a URL's password is never included).
    var location: String { get }
    /// Runs `body` on a consistent snapshot.
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// Runs `body` in one write transaction, committed when it returns and rolled back when it
    /// throws. SQLite takes the write lock at once (BEGIN IMMEDIATE); PostgreSQL takes row
    /// locks where the body asks for them (`lockStudy`, `lockStudies`).
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
}

/// Which SQL a database speaks where the two differ.
public enum SQLDialect: Sendable {
    case sqlite, postgresql
}

/// One connection inside a transaction or a read.
public protocol SQLSession {
    var dialect: SQLDialect { get }
    /// Runs a statement with `?` placeholders.
    func execute(_ sql: String, _ arguments: [any SQLArgument]) throws
    /// The rows of a query with `?` placeholders.
    func rows(_ sql: String, _ arguments: [any SQLArgument]) throws -> [SQLRow]
}

extension SQLSession {
    /// Runs a statement without arguments.
    func execute(_ sql: String) throws { try execute(sql, []) }

    /// The first row of a query, if any.
    func row(_ sql: String, _ arguments: [any SQLArgument] = []) throws -> SQLRow? { try rows(sql, arguments).first }

    /// Inserts a row and returns the value of its `column` (its new id).
    func insert(_ sql: String, _ arguments: [any SQLArgument], returning column: String) throws -> Int64 {
        guard let id = try rows(sql + " RETURNING " + column, arguments).first?.integer(column) else {
            throw SQLError(message: "an INSERT returned no \(column)")
        }
        return id
    }

    /// Whether a table exists.
    func tableExists(_ name: String) throws -> Bool {
        switch dialect {
        case .sqlite: try row("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", [name]) != nil
        case .postgresql: try row("SELECT 1 AS found FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", [name]) != nil
        }
    }

    /// Locks one study's row until the transaction ends (PostgreSQL; SQLite's write
    /// transaction already excludes every other writer), so that concurrent claims of its
    /// trials are serialised.
    func lockStudy(_ id: Int64) throws {
        if dialect == .postgresql { _ = try rows("SELECT study_id FROM studies WHERE study_id = ? FOR UPDATE", [id]) }
    }

    /// Serialises the creation of studies (PostgreSQL: a transaction-scoped advisory lock).
    func lockStudies() throws {
        if dialect == .postgresql { _ = try rows("SELECT pg_advisory_xact_lock(724331001) AS locked", []) }
    }

    /// The database's own clock, as Unix time: workers on other machines judge staleness by it.
    func serverTime() throws -> Double {
        switch dialect {
        case .sqlite: Date().timeIntervalSince1970
        case .postgresql: try row("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now")?.real("now") ?? Date().timeIntervalSince1970
        }
    }

    /// The column that orders a child table's rows as they were inserted.
    var insertionOrder: String { dialect == .sqlite ? "rowid" : "id" }
}

/// A value bound to a placeholder or read from a column.
public enum SQLValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String)
}

/// What can be bound to a placeholder.
public protocol SQLArgument {
    var sqlValue: SQLValue { get }
}

extension Int: SQLArgument { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLArgument { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLArgument { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLArgument { public var sqlValue: SQLValue { .text(self) } }
extension SQLValue: SQLArgument { public var sqlValue: SQLValue { self } }
extension Optional: SQLArgument where Wrapped: SQLArgument {
    public var sqlValue: SQLValue { map(\.sqlValue) ?? .null }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public let values: [String: SQLValue]

    public init(_ values: [String: SQLValue]) { self.values = values }

    public func integer(_ column: String) -> Int64? {
        switch values[column] {
        case .integer(let n): n
        case .real(let x): Int64(exactly: x)
        case .text(let s): Int64(s)
        default: nil
        }
    }

    public func int(_ column: String) -> Int? { integer(column).map(Int.init) }

    public func real(_ column: String) -> Double? {
        switch values[column] {
        case .integer(let n): Double(n)
        case .real(let x): x
        case .text(let s): Double(s)
        default: nil
        }
    }

    public func text(_ column: String) -> String? {
        switch values[column] {
        case .text(let s): s
        case .integer(let n): String(n)
        case .real(let x): "\(x)"
        default: nil
        }
    }

    /// A boolean: SQLite's 0/1, PostgreSQL's true/false.
    public func bool(_ column: String) -> Bool? {
        switch values[column] {
        case .integer(let n): n != 0
        case .text(let s): s == "t" || s == "true"
        default: nil
        }
    }
}

/// A database error, with the backend's own message.
public struct SQLError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
