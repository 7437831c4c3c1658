import Foundation
import STNTensor
import STNWarp

/// How a spatial transformer's localization output parameterizes theta (2,3).
///
/// Each kind's identity is the localization's initial output (its last Linear starts with
/// weight 0 and bias = `identityParameters`), so training starts from "no transform".
public enum TransformConstraint: String, Codable, Sendable, CaseIterable {
  /// Six free numbers, theta row-major. Identity (1,0,0,0,1,0).
  case affine
  /// (angle in radians, log-scale, tx, ty): [[s·cos a, -s·sin a, tx], [s·sin a, s·cos a, ty]], s = e^logscale.
  case rts
  /// (tx, ty): [[1, 0, tx], [0, 1, ty]].
  case translation
  /// (log-scale, tx, ty): [[s, 0, tx], [0, s, ty]], s = e^logscale.
  case scaleTranslation = "scale_translation"

  /// Numbers the localization network must output per sample.
  public var parameterCount: Int {
    switch self {
    case .affine: return 6
    case .rts: return 4
    case .translation: return 2
    case .scaleTranslation: return 3
    }
  }

  /// The parameters that give the identity transform.
  public var identityParameters: [Float] {
    switch self {
    case .affine: return [1, 0, 0, 0, 1, 0]
    default: return [Float](repeating: 0, count: parameterCount)
    }
  }

  /// theta (6, row-major) from one sample's parameters.
  public func theta(_ p: [Float]) -> [Float] {
    switch self {
    case .affine:
      return p
    case .rts:
      let s = Foundation.exp(p[1]), c = Foundation.cos(p[0]), n = Foundation.sin(p[0])
      return [s * c, -s * n, p[2], s * n, s * c, p[3]]
    case .translation:
      return [1, 0, p[0], 0, 1, p[1]]
    case .scaleTranslation:
      let s = Foundation.exp(p[0])
      return [s, 0, p[1], 0, s, p[2]]
    }
  }

  /// d(loss)/d(parameters) for one sample, given d(loss)/d(theta) `g` (6).
  public func parameterGradient(_ p: [Float], thetaGradient g: [Float]) -> [Float] {
    switch self {
    case .affine:
      return g
    case .rts:
      // theta = s·R(a): d/da rotates the linear part by 90°, d/dlogs is the linear part itself.
      let s = Foundation.exp(p[1]), c = Foundation.cos(p[0]), n = Foundation.sin(p[0])
      let dAngle = g[0] * (-s * n) + g[1] * (-s * c) + g[3] * (s * c) + g[4] * (-s * n)
      let dLogScale = g[0] * (s * c) + g[1] * (-s * n) + g[3] * (s * n) + g[4] * (s * c)
      return [dAngle, dLogScale, g[2], g[5]]
    case .translation:
      return [g[2], g[5]]
    case .scaleTranslation:
      let s = Foundation.exp(p[0])
      return [(g[0] + g[4]) * s, g[2], g[5]]
    }
  }
}

/// A spatial transformer (Jaderberg et al. 2015): localization network -> theta (N,2,3) ->
/// affine_grid(align_corners: false) -> grid_sample(bilinear, zeros) of its own input.
///
/// Works on the network input or any feature map: input (N,C,H,W) -> output (N,C,H,W). The
/// input is read twice (by the localization network and by the sampler); the graph adds both
/// gradient contributions. Publishes `<name>.theta` and `<name>.output` as graph taps.
public final class SpatialTransformer: Layer {
  public let localization: Sequential
  public let constraint: TransformConstraint
  /// Tap prefix (the module's state-dict path, or `st` for a transformer at the model's front).
  public let name: String
  public let outputShape: [Int]
  public let samplerOptions = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)

  /// `localization` must end in a Linear with `constraint.parameterCount` outputs; that layer is
  /// re-initialized to weight 0 and bias = the identity parameters.
  public init(localization: Sequential, constraint: TransformConstraint, name: String, store: ParameterStore) {
    self.localization = localization
    self.constraint = constraint
    self.name = name
    outputShape = localization.inputShape
    guard let last = localization.layers.last as? Linear, last.outFeatures == constraint.parameterCount else {
      preconditionFailure("localization must end in Linear(_, \(constraint.parameterCount)) (validated by ModelSpec)")
    }
    store.set(last.weight, to: Tensor(shape: last.weight.shape))
    if let bias = last.bias { store.set(bias, to: Tensor(shape: [constraint.parameterCount], data: constraint.identityParameters)) }
  }

  public var parameterCount: Int { localization.parameterCount }
  public var moduleDescription: String { "SpatialTransformer(constraint=\(constraint.rawValue), align_corners=False)" }

  /// Just theta (N,2,3) for input x (N,C,H,W): the localization pass, for batched rectification.
  public func theta(_ x: Variable, in graph: Graph) -> Variable {
    graph.theta(localization.forward(x, in: graph), constraint: constraint)
  }

  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    let theta = theta(x, in: graph)
    // The fused kernel never materializes the (N,H,W,2) grid.
    let output = graph.affineGridSample(x, theta: theta, options: samplerOptions)
    graph.taps[name + ".theta"] = theta
    graph.taps[name + ".output"] = output
    return output
  }
}
