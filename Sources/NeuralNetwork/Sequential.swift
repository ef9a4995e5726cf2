import TensorCore

/// Layers applied one after another; backward chains their backward passes in reverse.
public final class Sequential: Layer {
    /// The layers, first to last.
    public let layers: [any Layer]
    /// The first layer with parameters: no gradient is needed below it.
    private let firstTrainable: Int

    /// A sequence of layers.
    public init(_ layers: [any Layer]) {
        self.layers = layers
        firstTrainable = layers.firstIndex { !$0.parameters.isEmpty } ?? layers.count
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var state: [StateTensor] { layers.flatMap(\.state) }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        var activation = x
        for layer in layers { activation = layer.forward(activation, mode: mode) }
        return activation
    }

    /// NOTE: below the first layer with parameters nothing needs a gradient unless the caller
    /// asks for the input gradient, so e.g. the first Linear after a Flatten skips its `G·W`.
    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        var gradient = g
        for index in layers.indices.reversed() {
            let needed: InputGradient = index > firstTrainable || inputGradient == .needed ? .needed : .notNeeded
            guard let next = layers[index].backward(gradient, inputGradient: needed) else { return nil }
            gradient = next
        }
        return gradient
    }
}
