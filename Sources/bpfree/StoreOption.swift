import ArgumentParser
import Experiments
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

/// `--save-models` and `--models-dir`: where `tune` keeps its best trials' models and `bench`
/// its final runs' models.
struct ModelsOption: ParsableArguments {
    @Flag(help: "Save models (safetensors): a study's best trial, a bench's final runs, in a folder beside the store (runs.sqlite → runs.models/STUDY/).")
    var saveModels = false

    @Option(help: ArgumentHelp("Save the models in this folder instead (needed with a PostgreSQL store).", valueName: "folder"))
    var modelsDir: String?

    /// The folder, made now so that an unwritable one is refused before any training; nil when
    /// no model is to be saved.
    func folder(store: StoreOption) throws -> ModelFolder? {
        let folder: ModelFolder
        if let modelsDir {
            folder = ModelFolder(path: modelsDir)
        } else if saveModels {
            guard !ResultsStore.isPostgreSQL(store.store) else {
                throw ValidationError("--save-models: a PostgreSQL store has no folder beside it; give --models-dir FOLDER")
            }
            folder = .beside(store: store.store)
        } else {
            return nil
        }
        do { try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true) } catch {
            throw ValidationError("\(modelsDir == nil ? "--save-models" : "--models-dir"): cannot make \(folder.path): \((error as NSError).localizedDescription)")
        }
        return folder
    }
}

/// A command that could not do its work for a reason outside its arguments (a full disk, a
/// read-only file, an unreachable server): printed as `Error: …` without the usage text.
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
