/// Where a run computes: the CPU, or an NVIDIA GPU by its CUDA index.
public enum Device: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    /// `cpu`, `cuda` (the first GPU) or `cuda:N`.
    public init?(parsing text: String) {
        switch text {
        case "cpu": self = .cpu
        case "cuda": self = .cuda(0)
        default:
            guard text.hasPrefix("cuda:"), let index = Int(text.dropFirst(5)), index >= 0, index < 1024 else { return nil }
            self = .cuda(index)
        }
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let index): "cuda:\(index)"
        }
    }
}
