import TensorCore

/// A first-order optimizer: it only makes per-parameter state and updates a parameter from its
/// accumulated gradient in one fused pass (`OptimizerKernels`), zeroing the gradient in the same
/// pass.
public protocol Optimizer: AnyObject {
    /// The state one parameter needs (moments, step count, …).
    associatedtype State
    /// The learning rate of the next step (schedules set it between steps).
    var learningRate: Float { get set }
    /// Per-parameter states, keyed by parameter identity.
    var states: [ObjectIdentifier: State] { get set }
    /// Fresh state for a parameter.
    func makeState(for parameter: Parameter) -> State
    /// Starts a new step for one parameter (e.g. advances its step count).
    func beginStep(_ state: inout State)
    /// Updates `parameter.value` from `parameter.gradient` and zeroes the gradient.
    func update(_ parameter: Parameter, state: inout State)
}

extension Optimizer {
    /// Applies one update to every parameter from its accumulated gradient and zeroes the gradient.
    public func step(_ parameters: [Parameter]) {
        for parameter in parameters {
            withState(of: parameter) { state in
                beginStep(&state)
                update(parameter, state: &state)
            }
        }
    }

    private func withState(of parameter: Parameter, _ body: (inout State) -> Void) {
        let key = ObjectIdentifier(parameter)
        var state = states.removeValue(forKey: key) ?? makeState(for: parameter)
        body(&state)
        states[key] = state
    }
}
