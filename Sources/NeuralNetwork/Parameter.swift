import TensorCore

/// A trainable tensor and the gradient accumulated for it (`+=` by every backward pass,
/// zeroed by the optimizer step that consumes it).
public final class Parameter {
    /// A name that identifies the parameter within its model, e.g. "layer1.weight".
    public let name: String
    /// The current value.
    public var value: Tensor
    /// The accumulated gradient of the loss with respect to `value`; same shape.
    public var gradient: Tensor

    /// A parameter with the given initial value and a zero gradient.
    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.gradient = Tensor(zeros: value.shape, on: value.backend)
    }

    /// Moves the value and the gradient to `backend`'s device (the host when nil).
    public func move(to backend: (any DeviceBackend)?) {
        value = value.moved(to: backend)
        gradient = gradient.moved(to: backend)
    }

    /// Sets the gradient to zero.
    public func zeroGradient() { gradient.fill(0) }
}
