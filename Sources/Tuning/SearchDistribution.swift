/// The range one hyperparameter is searched over (Optuna's distributions). Values are handled
/// in their internal representation: floats and ints as Double, categories as their index.
public enum SearchDistribution: Sendable, Equatable {
    /// A real in [low, high], optionally log-scaled or on a grid of `step`.
    case float(low: Double, high: Double, log: Bool = false, step: Double? = nil)
    /// An integer in [low, high] with a step (1 by default), optionally log-scaled.
    case integer(low: Int, high: Int, log: Bool = false, step: Int = 1)
    /// One of `count` choices, by index.
    case categorical(count: Int)
}
