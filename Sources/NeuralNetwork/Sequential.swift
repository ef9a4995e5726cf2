import TensorCore

/// Layers applied one after another; backward chains their backward passes in reverse.
public final class Sequential: Layer {
    /// The layers, first to last.
    public let layers: [any Layer]

    /// A sequence of layers.
    public init(_ layers: [any Layer]) { self.layers = layers }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        var activation = x
        for layer in layers { activation = layer.forward(activation, mode: mode) }
        return activation
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        var gradient: Tensor? = g
        for (index, layer) in layers.enumerated().reversed() {
            let needed: InputGradient = index > 0 ? .needed : inputGradient
            gradient = layer.backward(gradient!, inputGradient: needed)
        }
        return gradient
    }
}
