import Records

/// The declaration of one hyperparameter: name, type, default and what it means.
public struct HyperparameterSpec: Sendable {
    /// The type of values a hyperparameter takes.
    public enum Kind: Sendable, Equatable {
        /// A real number within the closed range.
        case real(ClosedRange<Double>)
        /// An integer within the closed range.
        case integer(ClosedRange<Int>)
        /// One of the listed words.
        case choice([String])
        /// A keyword (e.g. "width") or a real number within the range.
        case keywordOrReal(String, ClosedRange<Double>)
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: HyperparameterValue
    public let help: String
    /// The log-uniform range tuning searches (protocol §4), or nil when the value is not tuned.
    public private(set) var searchRange: ClosedRange<Double>?
    /// Searched only when another choice hyperparameter has this value (e.g. CaFo's block
    /// learning rate only with DFA blocks).
    public private(set) var searchCondition: (name: String, value: String)?

    /// The same hyperparameter, tuned log-uniformly over `range` (only when choice `name` is `value`, if given).
    public func searched(logUniformIn range: ClosedRange<Double>, when name: String? = nil, is value: String? = nil) -> HyperparameterSpec {
        var copy = self
        copy.searchRange = range
        if let name, let value { copy.searchCondition = (name, value) }
        return copy
    }

    /// A real-valued hyperparameter.
    public static func real(_ name: String, _ defaultValue: Double, in range: ClosedRange<Double> = 0...Double.greatestFiniteMagnitude,
                            _ help: String) -> HyperparameterSpec {
        HyperparameterSpec(name: name, kind: .real(range), defaultValue: .real(defaultValue), help: help)
    }

    /// An integer hyperparameter.
    public static func integer(_ name: String, _ defaultValue: Int, in range: ClosedRange<Int> = 1...Int.max,
                               _ help: String) -> HyperparameterSpec {
        HyperparameterSpec(name: name, kind: .integer(range), defaultValue: .integer(defaultValue), help: help)
    }

    /// A hyperparameter that is a keyword or a number (e.g. a threshold of "width" or 2.0).
    public static func keywordOrReal(_ name: String, _ keyword: String, in range: ClosedRange<Double>, _ help: String) -> HyperparameterSpec {
        HyperparameterSpec(name: name, kind: .keywordOrReal(keyword, range), defaultValue: .text(keyword), help: help)
    }

    /// A hyperparameter that takes one of the listed words (the first is not necessarily the default).
    public static func choice(_ name: String, _ defaultValue: String, of choices: [String], _ help: String) -> HyperparameterSpec {
        HyperparameterSpec(name: name, kind: .choice(choices), defaultValue: .text(defaultValue), help: help)
    }

    /// A short description of the accepted values.
    public var accepted: String {
        switch kind {
        case .real(let range):
            range.upperBound == .greatestFiniteMagnitude ? "a number ≥ \(range.lowerBound)" : "a number in \(range.lowerBound)...\(range.upperBound)"
        case .integer(let range):
            range.upperBound == .max ? "an integer ≥ \(range.lowerBound)" : "an integer in \(range.lowerBound)...\(range.upperBound)"
        case .choice(let choices): choices.joined(separator: " | ")
        case .keywordOrReal(let keyword, let range): "\(keyword) or a number in \(range.lowerBound)...\(range.upperBound)"
        }
    }

    /// Parses `text` as a value of this hyperparameter, or explains why not.
    func parse(_ text: String, field: String) throws -> HyperparameterValue {
        let problem = "\(field)=\(text): expected \(accepted)"
        switch kind {
        case .real(let range):
            guard let value = Double(text), value.isFinite, range.contains(value) else {
                throw ConfigurationError(field: "--set", problem: problem)
            }
            return .real(value)
        case .integer(let range):
            guard let value = Int(text), range.contains(value) else { throw ConfigurationError(field: "--set", problem: problem) }
            return .integer(value)
        case .choice(let choices):
            guard choices.contains(text) else { throw ConfigurationError(field: "--set", problem: problem) }
            return .text(text)
        case .keywordOrReal(let keyword, let range):
            if text == keyword { return .text(text) }
            guard let value = Double(text), value.isFinite, range.contains(value) else {
                throw ConfigurationError(field: "--set", problem: problem)
            }
            return .real(value)
        }
    }
}

/// Resolved hyperparameters of one algorithm: its declared defaults, then the common flags,
/// then `--set prefix.name=value` options.
public struct Hyperparameters: Sendable, Equatable {
    /// The option prefix, e.g. "ff" for `--set ff.normalization=l2`.
    public let prefix: String
    /// Every declared hyperparameter with its resolved value.
    public private(set) var values: [String: HyperparameterValue]

    /// Resolves `specs`: defaults, then `common` (for names it declares), then `options`
    /// (`"prefix.name" → text`). Unknown or ill-typed options are errors that list the valid ones.
    public init(prefix: String, specs: [HyperparameterSpec], common: CommonHyperparameters = .init(),
                options: [String: String] = [:]) throws {
        self.prefix = prefix
        var values = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0.defaultValue) })
        let flags: [(String, HyperparameterValue?, String)] = [
            ("learning_rate", common.learningRate.map(HyperparameterValue.real), "--learning-rate"),
            ("weight_decay", common.weightDecay.map(HyperparameterValue.real), "--weight-decay"),
            ("batch_size", common.batchSize.map(HyperparameterValue.integer), "--batch-size"),
        ]
        for (name, value, flag) in flags {
            guard let value else { continue }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw ConfigurationError(field: flag, problem: "\(prefix) has no \(name); its hyperparameters: \(specs.map(\.name).joined(separator: ", "))")
            }
            values[name] = try spec.parse(value.description, field: flag)
        }
        let valid = specs.map { "\(prefix).\($0.name) (\($0.accepted))" }.joined(separator: ", ")
        for (key, text) in options.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == prefix, let spec = specs.first(where: { $0.name == parts[1] }) else {
                throw ConfigurationError(field: "--set", problem: "unknown option '\(key)' for \(prefix); valid: \(valid)")
            }
            values[spec.name] = try spec.parse(text, field: key)
        }
        self.values = values
    }

    /// A real-valued hyperparameter (integers are widened).
    public func real(_ name: String) -> Double {
        switch values[name] {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: preconditionFailure("\(prefix).\(name) is not a declared number")
        }
    }

    /// An integer hyperparameter.
    public func integer(_ name: String) -> Int {
        guard case .integer(let value) = values[name] else { preconditionFailure("\(prefix).\(name) is not a declared integer") }
        return value
    }

    /// A keyword-or-number hyperparameter: nil for the keyword, else the number.
    public func realUnlessKeyword(_ name: String) -> Double? {
        if case .real(let value) = values[name] { return value }
        return nil
    }

    /// A choice hyperparameter, converted to its enum.
    public func choice<T: RawRepresentable>(_ name: String, as type: T.Type = T.self) -> T where T.RawValue == String {
        guard case .text(let text) = values[name], let value = T(rawValue: text) else {
            preconditionFailure("\(prefix).\(name) is not a declared choice of \(T.self)")
        }
        return value
    }
}

/// Settings that every algorithm shares and that the command line sets by name.
public struct CommonHyperparameters: Sendable, Equatable, Codable {
    public var learningRate: Double?
    public var weightDecay: Double?
    public var batchSize: Int?

    /// Overrides; nil keeps the algorithm's default.
    public init(learningRate: Double? = nil, weightDecay: Double? = nil, batchSize: Int? = nil) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.batchSize = batchSize
    }
}
