import Foundation
import STNFiles
import STNTensor

/// Locates the PyTorch fixtures of the network ops (Tests/STNNetworkTests/Ops/Fixtures, written
/// by its `make_fixtures.py`) for ops that have no case in the shared golden folder.
public enum OpFixtures {
  /// The fixture folder, found from the package root.
  public static var directory: String { Golden.packageRoot + "/Tests/STNNetworkTests/Ops/Fixtures" }

  /// The warp-core fixtures (Tests/STNWarpTests/Fixtures, written by its `make_warp_fixtures.py`).
  public static var warpDirectory: String { Golden.packageRoot + "/Tests/STNWarpTests/Fixtures" }

  /// Every fixture in `folder` (default: the network ops') whose name starts with `prefix`,
  /// sorted, as full paths.
  public static func cases(prefix: String, in folder: String = directory) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".safetensors") }.sorted().map { folder + "/" + $0 }
  }
}

extension SafeTensorsFile {
  /// An integer setting from `__metadata__` (nil when absent or not an integer).
  public func intSetting(_ key: String) -> Int? { metadata[key].flatMap { Int($0) } }

  /// A float setting from `__metadata__`.
  public func floatSetting(_ key: String) -> Float? { metadata[key].flatMap { Float($0) } }

  /// A Python-style boolean setting ("True"/"False") from `__metadata__`.
  public func boolSetting(_ key: String) -> Bool? {
    switch metadata[key] {
    case "True", "true", "1": return true
    case "False", "false", "0": return false
    default: return nil
    }
  }
}

/// A tensor of uniform values in [-scale, scale) drawn from `rng`.
public func randomTensor(_ shape: [Int], rng: inout RandomStream, scale: Float = 1) -> Tensor {
  let count = shape.reduce(1, *)
  return Tensor(shape: shape, data: (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * scale })
}

/// Σ a·b in double precision (the scalar "loss" finite-difference checks differentiate).
public func dotProduct(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.count == b.count, "dotProduct of \(a.shape) and \(b.shape)")
  var sum: Double = 0
  for i in 0..<a.count { sum += Double(a.data[i]) * Double(b.data[i]) }
  return sum
}

/// What an accumulating (`+=`) backward kernel adds to a zero buffer of `shape`: the gradient a
/// first backward pass produces.
public func freshGradient(_ shape: [Int], _ accumulate: (inout Tensor) -> Void) -> Tensor {
  var gradient = Tensor(shape: shape)
  accumulate(&gradient)
  return gradient
}
