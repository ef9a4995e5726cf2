import Foundation
import GRDB

/// The embedded backend: one SQLite file in WAL mode through GRDB, shared by the worker
/// processes of one machine.
public final class SQLiteDatabase: SQLDatabase {
    public let path: String
    let pool: DatabasePool
    public var dialect: SQLDialect { .sqlite }
    public var location: String { path }

    /// Opens (creating if needed) the file; waits up to 120 s for another process's write lock.
    init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(120)
        pool = try DatabasePool(path: path, configuration: configuration)
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
