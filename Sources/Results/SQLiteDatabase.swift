import Foundation
import GRDB

/// The embedded backend: one SQLite file in WAL mode through GRDB, shared by the worker
/// processes of one machine.
public final class SQLiteDatabase: SQLDatabase {
    public let path: String
    let pool: any DatabaseWriter
    /// Opened read-only: the file or its folder cannot be written (a read-only mount, a copy
    /// without write permission); writes fail, naming the file.
    public let isReadOnly: Bool
    public var dialect: SQLDialect { .sqlite }
    public var location: String { path }

    /// How long a write waits for another process's write lock, and after how long it says so.
    static let lockWait = (total: 120.0, announceAfter: 2.0, poll: 0.02)

    /// Opens (creating if needed) the file; waits up to 120 s for another process's write lock,
    /// saying on standard error after 2 s that it waits and for what.
    init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .callback { [path] tries in
            let wait = Self.lockWait
            let announceAt = Int(wait.announceAfter / wait.poll)
            if tries == announceAt {
                FileHandle.standardError.write(Data("waiting for the results store \(path): another process holds its write lock (waiting up to \(Int(wait.total)) s)\n".utf8))
            }
            guard Double(tries) * wait.poll < wait.total else { return false }
            Thread.sleep(forTimeInterval: wait.poll)
            return true
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        isReadOnly = false
    }

    /// Opens the file read-only: as it is when SQLite can read its write-ahead log there (the
    /// log's files exist), else as immutable (`immutable=1`: nothing can change a file no one
    /// can write) when there is no log to lose.
    init(readOnlyPath path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.read { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            pool = queue
        } catch let error as DatabaseError {
            let log = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            guard log == 0 else { throw error }
            let uri = "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?immutable=1"
            pool = try DatabaseQueue(path: uri, configuration: configuration)
        }
        isReadOnly = true
    }

    public func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        do {
            return try pool.read { try body(Session(db: $0)) }
        } catch let error as DatabaseError {
            throw StoreError(path: path, problem: "cannot read the results store (\(error.message ?? "\(error.resultCode)"))")
        }
    }

    /// A failed write (a full disk, a read-only file) is rolled back whole and names the file.
    public func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(Session(db: db))
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError {
            throw StoreError(path: path, problem: "cannot write to the results store (\(error.message ?? "\(error.resultCode)"))")
        }
    }

    struct Session: SQLSession {
        let db: Database
        var dialect: SQLDialect { .sqlite }

        func execute(_ sql: String, _ arguments: [any SQLArgument]) throws {
            try db.execute(sql: sql, arguments: Self.arguments(arguments))
        }

        func rows(_ sql: String, _ arguments: [any SQLArgument]) throws -> [SQLRow] {
            try Row.fetchAll(db, sql: sql, arguments: Self.arguments(arguments)).map { row in
                var values: [String: SQLValue] = [:]
                for (column, value) in row {
                    switch value.storage {
                    case .null: values[column] = .null
                    case .int64(let n): values[column] = .integer(n)
                    case .double(let x): values[column] = .real(x)
                    case .string(let s): values[column] = .text(s)
                    case .blob(let data): values[column] = .text(String(decoding: data, as: UTF8.self))
                    }
                }
                return SQLRow(values)
            }
        }

        static func arguments(_ values: [any SQLArgument]) -> StatementArguments {
            StatementArguments(values.map { argument -> DatabaseValueConvertible? in
                switch argument.sqlValue {
                case .null: nil
                case .integer(let n): n
                case .real(let x): x
                case .text(let s): s
                }
            })
        }
    }
}
