import Foundation
import STNFiles
import STNTensor

/// Locates and loads the PyTorch reference cases (`$STN_GOLDEN_DIR`, default `../shared/golden`
/// relative to the package root).
public enum Golden {
  /// The golden folder: `$STN_GOLDEN_DIR`, or `../shared/golden` beside the package.
  public static var directory: String {
    if let path = ProcessInfo.processInfo.environment["STN_GOLDEN_DIR"], !path.isEmpty { return path }
    return packageRoot + "/../shared/golden"
  }

  /// The package root, found from this source file's location.
  public static var packageRoot: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
  }

  /// Every `.safetensors` file in the golden folder whose name starts with `prefix`, sorted.
  public static func cases(prefix: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".safetensors") }.sorted().map { directory + "/" + $0 }
  }

  /// Loads one case.
  public static func load(_ path: String) throws -> SafeTensorsFile {
    try SafeTensorsFile(contentsOf: path)
  }
}

/// Tolerance check in the golden README's form: |a - b| <= atol + rtol·|b| element-wise.
/// Returns nil when every element passes, else a message naming the worst element.
public func closeness(_ actual: Tensor, _ expected: Tensor, atol: Float, rtol: Float) -> String? {
  guard actual.shape == expected.shape else { return "shape \(actual.shape) != expected \(expected.shape)" }
  var worst = -1, worstExcess: Float = 0
  for i in 0..<actual.count {
    let diff = abs(actual.data[i] - expected.data[i])
    let allowed = atol + rtol * abs(expected.data[i])
    if !(diff <= allowed) {
      let excess = diff.isNaN ? .infinity : diff - allowed
      if worst < 0 || excess > worstExcess { worst = i; worstExcess = excess }
    }
  }
  if worst < 0 { return nil }
  return "element \(worst): got \(actual.data[worst]), expected \(expected.data[worst]) (atol \(atol), rtol \(rtol))"
}

/// Central finite difference of a scalar function with respect to each element of `x`,
/// computed in double precision around float32 inputs.
public func numericalGradient(of f: (Tensor) -> Double, at x: Tensor, epsilon: Float = 1e-2) -> Tensor {
  var gradient = Tensor(shape: x.shape)
  var probe = x
  for i in 0..<x.count {
    let original = probe.data[i]
    probe.data[i] = original + epsilon
    let plus = f(probe)
    probe.data[i] = original - epsilon
    let minus = f(probe)
    probe.data[i] = original
    gradient.data[i] = Float((plus - minus) / Double(2 * epsilon))
  }
  return gradient
}
