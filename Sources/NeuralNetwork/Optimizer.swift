import TensorCore

/// A first-order optimizer: it only makes per-parameter state and updates a range of one
/// parameter's elements from their gradient, in one fused pass split across the kernel threads.
///
/// Two ways in: `step` consumes the gradients that backward accumulated (and zeroes them in the
/// same pass); `consume` takes a block of gradient straight from a layer's backward pass, so the
/// gradient never has to be written out and read back (see `Linear.backward`).
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
    /// Updates `parameter.value[range]` from `gradient[range]` (absolute indices); zeroes those
    /// gradient elements when `zeroGradient` is set.
    func update(_ parameter: Parameter, gradient: UnsafeMutablePointer<Float>, range: Range<Int>,
                zeroGradient: Bool, state: inout State)
}

extension Optimizer {
    /// Applies one update to every parameter from its accumulated gradient and zeroes the
    /// gradient; parameters already updated block by block in this step (`consume`) are skipped.
    public func step(_ parameters: [Parameter]) {
        for parameter in parameters {
            if parameter.consumedInBackward {
                parameter.consumedInBackward = false
                continue
            }
            let count = parameter.value.count
            withState(of: parameter) { state in
                beginStep(&state)
                parameter.gradient.withUnsafeMutablePointer { g in
                    update(parameter, gradient: g, range: 0..<count, zeroGradient: true, state: &state)
                }
            }
        }
    }

    /// Updates `parameter.value[range]` from a block of its gradient as backward produces it, and
    /// zeroes the block for the next accumulation. Blocks must come in order and cover the
    /// parameter; the first one starts the step.
    /// Shapes: gradient points at the gradient of element `range.lowerBound`.
    public func consume(_ parameter: Parameter, gradient: UnsafeMutablePointer<Float>, range: Range<Int>) {
        withState(of: parameter) { state in
            if range.lowerBound == 0 { beginStep(&state) }
            update(parameter, gradient: gradient - range.lowerBound, range: range, zeroGradient: true, state: &state)
        }
        parameter.consumedInBackward = true
    }

    private func withState(of parameter: Parameter, _ body: (inout State) -> Void) {
        let key = ObjectIdentifier(parameter)
        var state = states.removeValue(forKey: key) ?? makeState(for: parameter)
        body(&state)
        states[key] = state
    }
}

/// A raw view of a parameter's buffers that may cross into the kernel threads; indexed with
/// absolute element indices.
struct FusedBuffers: @unchecked Sendable {
    let value: UnsafeMutablePointer<Float>
    let gradient: UnsafeMutablePointer<Float>
    let first: UnsafeMutablePointer<Float>?
    let second: UnsafeMutablePointer<Float>?
}

extension Parameter {
    /// Runs `body` over chunks of `range` with the value, gradient and up to two state buffers,
    /// in parallel across the kernel threads.
    func withFusedBuffers(gradient: UnsafeMutablePointer<Float>, range: Range<Int>, _ first: inout Tensor?, _ second: inout Tensor?,
                          _ body: @Sendable (FusedBuffers, Range<Int>) -> Void) {
        precondition(range.upperBound <= value.count, "\(name): update range \(range) beyond \(value.count) elements")
        value.withUnsafeMutablePointer { v in
            let m = first?.withUnsafeMutablePointer { $0 }
            let s = second?.withUnsafeMutablePointer { $0 }
            // NOTE: the state tensors are owned by the optimizer and never shared, so their
            // pointers stay valid for the duration of this call.
            let buffers = FusedBuffers(value: v, gradient: gradient, first: m, second: s)
            let start = range.lowerBound
            Parallel.forEachChunk(count: range.count) { chunk in
                body(buffers, (start + chunk.lowerBound)..<(start + chunk.upperBound))
            }
        }
    }
}
