import TensorCore

/// Whether a forward pass keeps what its backward pass needs.
public enum Mode: Sendable {
    /// Keep activations for `backward`; batch statistics where a layer has them.
    case training
    /// Keep nothing; running statistics where a layer has them.
    case inference
}

/// Whether a backward pass must produce the gradient with respect to its input.
public enum InputGradient: Sendable {
    case needed
    /// The first layer of a network or a locally trained layer: skip the `G·W` product.
    case notNeeded
}

/// A differentiable layer: forward and backward live together.
///
/// `forward` in `.training` mode keeps what `backward` needs; `backward` accumulates into the
/// parameters' gradients, releases what forward kept, and returns the input gradient. Output and
/// gradient buffers belong to the layer and are reused batch after batch.
public protocol Layer: AnyObject {
    /// The trainable parameters, in a stable order.
    var parameters: [Parameter] { get }
    /// Everything the layer's inference reads, trained or not (default: its parameters).
    var state: [StateTensor] { get }
    /// Computes the output for a batch.
    ///
    /// Shapes: input N×… → output N×….
    func forward(_ input: Tensor, mode: Mode) -> Tensor
    /// Given ∂L/∂output, accumulates ∂L/∂parameters and returns ∂L/∂input (or nil when not needed).
    ///
    /// Shapes: outputGradient like the last output; the result like the last input.
    func backward(_ outputGradient: Tensor, inputGradient: InputGradient) -> Tensor?
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var state: [StateTensor] { parameters.map { StateTensor($0) } }
}
