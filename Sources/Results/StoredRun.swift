import Records

/// One training run as the store keeps it: its record, with the store's row id, and the
/// resource trace. The run table's query columns are derived from the record; the record itself
/// is kept whole and read back as the same type.
@dynamicMemberLookup
public struct StoredRun: Sendable, Equatable {
    /// The row id once stored.
    public var id: Int64?
    public var record: RunRecord
    /// Trace column names, in order, and one row of values (nil: not available) per sample.
    public var traceColumns: [String]
    public var traceRows: [[Double?]]

    public init(_ record: RunRecord, id: Int64? = nil, traceColumns: [String] = TraceColumn.names,
                traceRows: [[Double?]] = []) {
        self.id = id
        self.record = record
        self.traceColumns = traceColumns
        self.traceRows = traceRows
    }

    /// The record's fields, read through the stored run (`run.algorithm`, `run.status`).
    public subscript<T>(dynamicMember keyPath: KeyPath<RunRecord, T>) -> T { record[keyPath: keyPath] }
}
