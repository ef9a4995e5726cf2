import Foundation

extension ResultsStore {
    /// The store's per-epoch and per-stage tables: a run's epochs and stages, a row each, for
    /// SQL and spreadsheets (`bpfree export --table epochs|stages` reads them back).
    public enum DetailTable: String, CaseIterable, Sendable {
        case epoch, stage

        /// Its columns, in order.
        public var columns: [String] {
            switch self {
            case .epoch: ["run_id", "stage", "epoch", "train_loss", "val_loss", "val_accuracy", "seconds", "val_seconds"]
            case .stage: ["run_id", "position", "name", "epochs", "best_epoch", "best_val_loss"]
            }
        }

        var insertSQL: String {
            "INSERT INTO \(rawValue) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
        }
    }

    /// Every row of `table` as CSV with a header, in the order the rows were stored (by run).
    public func csv(of table: DetailTable) throws -> String {
        try database.read { db in
            let rows = try db.rows("SELECT \(table.columns.joined(separator: ", ")) FROM \(table.rawValue) ORDER BY run_id, \(db.insertionOrder)", [])
            let lines = rows.map { row in
                table.columns.map { ResultsExport.quoted((row.values[$0] ?? .null).csvText) }.joined(separator: ",")
            }
            return ([table.columns.joined(separator: ",")] + lines).joined(separator: "\n") + "\n"
        }
    }
}
