/// One hyperparameter value as written into the run record.
public enum HyperparameterValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case real(Double)
    case integer(Int)
    case text(String)

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .real(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .real(value) }
        else { self = .text(try container.decode(String.self)) }
    }

    public var description: String {
        switch self {
        case .real(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .text(let value): value
        }
    }
}
