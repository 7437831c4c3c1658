#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A counter-based random generator: the stream for (seed, epoch, index) is a pure function of
/// those three numbers, so sample *k* of epoch *e* draws the same parameters whatever thread
/// handles it and in whatever order.
///
/// The state advances with SplitMix64 (Steele, Lea & Flood 2014), seeded by mixing the key.
public struct RandomStream: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// The stream for a (seed, epoch, index) key; `salt` separates independent uses of one key.
  public init(seed: UInt64, epoch: UInt64 = 0, index: UInt64 = 0, salt: UInt64 = 0) {
    var s = RandomStream.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
    s = RandomStream.mix(s ^ (epoch &* 0xD1B5_4A32_D192_ED03))
    s = RandomStream.mix(s ^ (index &* 0x8CB9_2BA7_2F3D_8DD7))
    s = RandomStream.mix(s ^ (salt &* 0xA24B_AED4_963E_E407))
    state = s
  }

  private static func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return RandomStream.mix(state)
  }

  /// Skips the next `count` draws of `next()` at once (SplitMix64's state moves by a constant
  /// per draw), so a part of a stream can be drawn without drawing what comes before it.
  public mutating func skip(_ count: Int) {
    precondition(count >= 0, "cannot skip \(count) draws")
    state &+= UInt64(count) &* 0x9E37_79B9_7F4A_7C15
  }

  /// Uniform in [0, 1) with 24 random bits (exactly representable as Float).
  public mutating func nextUnitFloat() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }

  /// Uniform in [low, high) in double precision (53 random bits).
  public mutating func uniform(_ low: Double, _ high: Double) -> Double {
    low + (high - low) * (Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0))
  }

  /// Standard normal sample (Box-Muller), double precision.
  public mutating func normal() -> Double {
    var u1 = uniform(0, 1)
    if u1 < 1e-300 { u1 = 1e-300 }
    let u2 = uniform(0, 1)
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
  }
}

