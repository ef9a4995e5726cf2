@testable import NeuralNetwork
import TensorCore
import Testing
import TestSupport

/// A model's state in PyTorch's layouts: what a saved model holds.
@Suite struct StateTensorTests {
    /// A convolution's portable weight is PyTorch's O×C×kh×kw: the convolution computed from it
    /// with PyTorch's indexing, `Σ W[o, c, ky, kx]·x[y+ky−p, x+kx−p, c]`, equals the layer's.
    @Test func convolutionWeightsInPyTorchsLayoutComputeTheSameConvolution() {
        var generator = SeededGenerator(seed: 3)
        let layer = Conv2D(inputChannels: 3, outputChannels: 2, kernelSize: 3, padding: 1, bias: false, using: &generator)
        let state = layer.state
        #expect(state.map(\.name) == ["conv.weight"] && state[0].portableShape == [2, 3, 3, 3])
        let w = state[0].portableValue
        let x = ConvolutionTests.distinctInput([1, 4, 5, 3], seed: 4)
        let y = layer.forward(x, mode: .inference)
        for oy in 0..<4 { for ox in 0..<5 { for o in 0..<2 {
            var sum: Float = 0
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                let (iy, ix) = (oy + ky - 1, ox + kx - 1)
                guard (0..<4).contains(iy), (0..<5).contains(ix) else { continue }
                sum += w[((o * 3 + c) * 3 + ky) * 3 + kx] * x[(iy * 5 + ix) * 3 + c]
            } } }
            #expect(abs(sum - y[(oy * 5 + ox) * 2 + o]) < 1e-4)
        } } }
    }

    /// A dense layer reading a flattened H×W×C map gets PyTorch's C×H×W columns.
    @Test func denseWeightsAfterAMapReadItChannelMajor() {
        var generator = SeededGenerator(seed: 5)
        let layer = Linear(inputSize: 2 * 3 * 4, outputSize: 2, using: &generator)
        layer.inputMap = (height: 2, width: 3, channels: 4)
        let map = ConvolutionTests.distinctInput([1, 2, 3, 4], seed: 6)   // H×W×C
        let y = layer.forward(map.reshaped([1, 24]), mode: .inference)
        let w = layer.state[0].portableValue, b = layer.bias!.value
        for o in 0..<2 {
            var sum = b[o]
            for c in 0..<4 { for h in 0..<2 { for x in 0..<3 { sum += w[o * 24 + (c * 2 + h) * 3 + x] * map[(h * 3 + x) * 4 + c] } } }
            #expect(abs(sum - y[o]) < 1e-4)
        }
    }

    /// Writing a portable value and reading it back gives it unchanged, and the native value
    /// is restored exactly.
    @Test func portableValuesRoundTrip() {
        var generator = SeededGenerator(seed: 7)
        let conv = Conv2D(inputChannels: 4, outputChannels: 3, kernelSize: 3, using: &generator)
        let dense = Linear(inputSize: 2 * 2 * 3, outputSize: 5, using: &generator)
        dense.inputMap = (height: 2, width: 2, channels: 3)
        for state in conv.state + dense.state {
            let native = state.value, portable = state.portableValue
            state.portableValue = portable
            #expect(state.value == native && state.portableValue == portable)
        }
        #expect(conv.state[0].portableValue != Tensor(shape: [3, 4, 3, 3], scalars: conv.weight.value.scalars), "the layouts differ")
    }

    /// Batch norm's state is γ, β and the running statistics under PyTorch's names, whether or
    /// not γ and β are trained, and writing it sets what inference uses.
    @Test func batchNormStateHoldsTheRunningStatistics() {
        for trained in [true, false] {
            let layer = BatchNorm2D(channels: 2, affineTrained: trained, name: "block1.bn")
            #expect(layer.state.map(\.name) == ["block1.bn.weight", "block1.bn.bias", "block1.bn.running_mean", "block1.bn.running_var"])
            layer.state[2].value = Tensor(shape: [2], scalars: [1, 2])
            layer.state[3].value = Tensor(shape: [2], scalars: [4, 9])
            #expect(layer.runningMean == [1, 2] && layer.runningVariance == [4, 9])
            let y = layer.forward(Tensor(shape: [1, 1, 1, 2], scalars: [3, 5]), mode: .inference)
            #expect(abs(y[0] - 1) < 1e-4 && abs(y[1] - 1) < 1e-4)
        }
    }
}
