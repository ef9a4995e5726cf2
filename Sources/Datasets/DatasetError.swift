/// A problem with a data file or directory; the message names the file and what is wrong.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file or directory concerned.
    public let path: String
    /// What is wrong with it.
    public let problem: String

    /// An error about `path`.
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
