/// What an algorithm is in a comparison, as its registry entry declares it: stored with every
/// run so that a report learns each arm's baseline and control from the record, never from ids.
public struct AlgorithmDescriptor: Codable, Sendable, Equatable {
    /// The part an arm plays in a comparison.
    public enum Role: String, Codable, Sendable {
        /// What every rule is compared against (BP).
        case baseline
        /// A learning rule under test.
        case rule
        /// A floor that tells learning from luck (`shallow`: only the output layer trains).
        case control
    }

    /// The id the run was started with (a variant id such as `cafo-rand-ce` included).
    public var id: String
    /// The registered algorithm: the prefix of its `--set` options.
    public var family: String
    public var role: Role
    /// The id of the arm this one is compared against (nil for the baseline itself).
    public var baseline: String?
    /// The id of the control arm its comparisons carry (nil: none).
    public var control: String?

    public init(id: String, family: String, role: Role, baseline: String?, control: String?) {
        self.id = id
        self.family = family
        self.role = role
        self.baseline = baseline
        self.control = control
    }
}
