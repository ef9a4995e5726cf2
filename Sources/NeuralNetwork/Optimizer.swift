import TensorCore

/// A first-order optimizer: it only makes per-parameter state and updates one parameter.
///
/// `step` applies one update to each parameter from its accumulated gradient, as one fused
/// pass over the parameter's buffers split across the kernel threads, and zeroes the gradient
/// in that same pass.
public protocol Optimizer: AnyObject {
    /// The state one parameter needs (moments, step count, …).
    associatedtype State
    /// The learning rate of the next step (schedules set it between steps).
    var learningRate: Float { get set }
    /// Fresh state for a parameter of the given shape.
    func makeState(for parameter: Parameter) -> State
    /// Updates `parameter` from its gradient and zeroes the gradient.
    func update(_ parameter: Parameter, state: inout State)
    /// Per-parameter states, keyed by parameter identity.
    var states: [ObjectIdentifier: State] { get set }
}

extension Optimizer {
    /// Applies one update to every parameter, creating state on first sight.
    public func step(_ parameters: [Parameter]) {
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            var state = states.removeValue(forKey: key) ?? makeState(for: parameter)
            update(parameter, state: &state)
            states[key] = state
        }
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
    /// Runs `body` over chunks of the value, gradient and up to two state buffers, in parallel.
    func withFusedBuffers(_ first: inout Tensor?, _ second: inout Tensor?,
                          _ body: @Sendable (FusedBuffers, Range<Int>) -> Void) {
        let n = value.count
        precondition(gradient.count == n, "\(name): gradient \(gradient.shape) vs value \(value.shape)")
        value.withUnsafeMutablePointer { v in
            gradient.withUnsafeMutablePointer { g in
                let m = first?.withUnsafeMutablePointer { $0 }
                let s = second?.withUnsafeMutablePointer { $0 }
                // NOTE: the state tensors are owned by the optimizer and never shared, so their
                // pointers stay valid for the duration of this call.
                let buffers = FusedBuffers(value: v, gradient: g, first: m, second: s)
                Parallel.forEachChunk(count: n) { range in body(buffers, range) }
            }
        }
    }
}
