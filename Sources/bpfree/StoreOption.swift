import ArgumentParser
import Foundation
import Results

/// `--store`, declared once for every command that reads or writes the results store.
struct StoreOption: ParsableArguments {
    @Option(help: ArgumentHelp("Results store: a SQLite file, or a PostgreSQL server as postgresql://user@host[:port]/database "
                               + "(the password from PGPASSWORD or ~/.pgpass keeps it off the command line).",
                               valueName: "file-or-url"))
    var store = "bpfree.sqlite"

    /// The store as messages show it (a URL without its password).
    var shown: String { ResultsStore.isPostgreSQL(store) ? PostgreSQLDatabase.redacted(store) : store }

    /// Opens the store, creating it if needed (`forReading`: read-only where it cannot be written).
    func open(forReading: Bool = false) throws -> ResultsStore {
        do { return try ResultsStore(location: store, forReading: forReading) } catch let error as StoreError {
            throw CommandError("--store: \(error)")
        }
    }

    /// Opens a store that must already exist, to read it (a SQLite file is never created by a
    /// reader, and one that cannot be written is read as it is).
    func openExisting() throws -> ResultsStore {
        if !ResultsStore.isPostgreSQL(store), !FileManager.default.fileExists(atPath: store) {
            throw ValidationError("--store: \(store) does not exist")
        }
        return try open(forReading: true)
    }
}

/// A command that could not do its work for a reason outside its arguments (a full disk, a
/// read-only file, an unreachable server): printed as `Error: …` without the usage text.
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
