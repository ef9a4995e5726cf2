import Foundation

/// Counter-based draws: draw `i` of a fill is SplitMix64's output at counter `i` from a 64-bit
/// key, so each draw can be computed where it is used, from the key alone — on a device, by the
/// kernels of `Sources/CUDA/Kernels/random.cu`, which compute exactly these numbers — and nothing
/// is copied there. A fill takes its key from a run's `SeededGenerator` (one `next()`), so the
/// seeded stream decides every draw on either device.
/// - Paper: Steele, Lea & Flood, "Fast Splittable Pseudorandom Number Generators", OOPSLA 2014.
public enum CounterRandom {
    /// The 64 random bits of draw `index` of the fill keyed `key`.
    @inline(__always)
    public static func bits(key: UInt64, index: UInt64) -> UInt64 {
        var z = key &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Draw `index` as a Float uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public static func unitFloat(key: UInt64, index: UInt64) -> Float {
        Float(bits(key: key, index: index) >> 40) * 0x1p-24
    }

    /// Draw `index` as a Double uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public static func unitDouble(key: UInt64, index: UInt64) -> Double {
        Double(bits(key: key, index: index) >> 11) * 0x1p-53
    }
}

/// Box–Muller: two independent standard normals from two uniforms in [0, 1) (the first clamped
/// away from 0), as every normal fill draws them — on the host from either generator, and in
/// `normal_fill` on a device.
public enum BoxMuller {
    @inline(__always)
    public static func pair(_ u1: Double, _ u2: Double) -> (Double, Double) {
        let radius = (-2 * log(max(u1, .leastNormalMagnitude))).squareRoot(), angle = 2 * .pi * u2
        return (radius * cos(angle), radius * sin(angle))
    }
}
