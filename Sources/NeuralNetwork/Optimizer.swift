import TensorCore

/// A first-order optimizer: it only makes per-parameter state and updates a parameter from its
/// accumulated gradient in one fused pass split across the kernel threads, zeroing the gradient
/// in the same pass.
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

/// A raw view of a parameter's buffers that may cross into the kernel threads.
struct FusedBuffers: @unchecked Sendable {
    let value: UnsafeMutablePointer<Float>
    let gradient: UnsafeMutablePointer<Float>
    let first: UnsafeMutablePointer<Float>?
    let second: UnsafeMutablePointer<Float>?
}

extension Parameter {
    /// Runs `body` over chunks of the elements with the value, gradient and up to two state
    /// buffers, in parallel across the kernel threads.
    func withFusedBuffers(_ first: inout Tensor?, _ second: inout Tensor?,
                          _ body: @Sendable (FusedBuffers, Range<Int>) -> Void) {
        let (count, gradient) = (value.count, self.gradient.withUnsafeMutablePointer { $0 })
        value.withUnsafeMutablePointer { v in
            let m = first?.withUnsafeMutablePointer { $0 }
            let s = second?.withUnsafeMutablePointer { $0 }
            // NOTE: the gradient and the state tensors are owned by the parameter and the
            // optimizer and never shared, so their pointers stay valid for the duration of this call.
            let buffers = FusedBuffers(value: v, gradient: gradient, first: m, second: s)
            Parallel.forEachChunk(count: count) { chunk in body(buffers, chunk) }
        }
    }
}
