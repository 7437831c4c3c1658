import Foundation
import STNTensor
import STNWarp

/// How an affine spatial transformer's localization output parameterizes theta (2,3).
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

/// The family of maps a spatial transformer's sampler applies (the `transform:` setting).
public enum TransformFamily: String, Codable, Sendable, CaseIterable {
  /// theta (2,3), `affine_grid`; see `TransformConstraint` for its parameterizations.
  case affine
  /// A homography in its 8-parameter form (h33 = 1), `projectiveGrid`.
  case projective
  /// A thin-plate spline on a regular grid of control points, `thinPlateSplineGrid`.
  case tps
}

/// What a spatial transformer samples with, and how its localization output parameterizes it.
///
/// Each kind's identity is the localization's initial output (its last Linear starts with
/// weight 0 and bias = `identityParameters`), so training starts from "no transform".
public enum SpatialTransform: Equatable, Sendable {
  /// theta (2,3) from the constraint's parameters.
  case affine(TransformConstraint)
  /// (h11, h12, h13, h21, h22, h23, h31, h32): the homography [[h11 h12 h13] [h21 h22 h23]
  /// [h31 h32 1]] from output normalized to input normalized coordinates. Identity
  /// (1,0,0,0,1,0,0,0); the first six are an affine theta.
  case projective
  /// Displacements (dx_1, dy_1, ..., dx_K, dy_K) of K = gridSize² control points on a regular
  /// grid spanning [-1, 1]² (row by row from the top, `ThinPlateSpline.regularGrid`), in
  /// normalized coordinates: control point k of the output samples the input at c_k + d_k, and
  /// the thin-plate spline through those K pairs gives every other pixel. Identity: all 0.
  case thinPlateSpline(gridSize: Int)

  /// The family (`transform:` setting).
  public var family: TransformFamily {
    switch self {
    case .affine: return .affine
    case .projective: return .projective
    case .thinPlateSpline: return .tps
    }
  }

  /// Numbers the localization network must output per sample: the constraint's count, 8, or 2K.
  public var parameterCount: Int {
    switch self {
    case .affine(let constraint): return constraint.parameterCount
    case .projective: return 8
    case .thinPlateSpline(let gridSize): return 2 * gridSize * gridSize
    }
  }

  /// The parameters that give the identity transform.
  public var identityParameters: [Float] {
    switch self {
    case .affine(let constraint): return constraint.identityParameters
    case .projective: return [1, 0, 0, 0, 1, 0, 0, 0]
    case .thinPlateSpline: return [Float](repeating: 0, count: parameterCount)
    }
  }
}

/// A spatial transformer (Jaderberg et al. 2015): localization network -> the transform's
/// parameters -> sampling grid (align_corners: false) -> grid_sample(bilinear, zeros) of its own
/// input, for any `SpatialTransform`: affine (theta (N,2,3)), projective (homography (N,3,3)) or
/// thin-plate spline (source positions of the control points (N,K,2)).
///
/// Works on the network input or any feature map: input (N,C,H,W) -> output (N,C,H,W). The
/// input is read twice (by the localization network and by the sampler); the graph adds both
/// gradient contributions. Publishes `<name>.theta` (the transform's parameters as above) and
/// `<name>.output` as graph taps.
public final class SpatialTransformer: Layer {
  public let localization: Sequential
  public let transform: SpatialTransform
  /// Tap prefix (the module's state-dict path, or `st` for a transformer at the model's front).
  public let name: String
  public let outputShape: [Int]
  public let samplerOptions = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)
  /// The thin-plate spline's grid generator for this input size (nil for the other families).
  public let splineBasis: ThinPlateSplineGridBasis?

  /// `localization` must end in a Linear with `transform.parameterCount` outputs; that layer is
  /// re-initialized to weight 0 and bias = the identity parameters.
  public init(localization: Sequential, transform: SpatialTransform, name: String, store: ParameterStore) {
    self.localization = localization
    self.transform = transform
    self.name = name
    outputShape = localization.inputShape
    guard let last = localization.layers.last as? Linear, last.outFeatures == transform.parameterCount else {
      preconditionFailure("localization must end in Linear(_, \(transform.parameterCount)) (validated by ModelSpec)")
    }
    if case .thinPlateSpline(let gridSize) = transform {
      // The grid size is validated by ModelSpec (2...8); a regular grid always has a spline.
      splineBasis = ThinPlateSplineGridBasis(gridSize: gridSize, height: outputShape[1], width: outputShape[2], alignCorners: false)
    } else {
      splineBasis = nil
    }
    store.set(last.weight, to: Tensor(shape: last.weight.shape))
    if let bias = last.bias { store.set(bias, to: Tensor(shape: [transform.parameterCount], data: transform.identityParameters)) }
  }

  /// An affine transformer under `constraint`.
  public convenience init(localization: Sequential, constraint: TransformConstraint, name: String, store: ParameterStore) {
    self.init(localization: localization, transform: .affine(constraint), name: name, store: store)
  }

  public var parameterCount: Int { localization.parameterCount }
  public var moduleDescription: String {
    switch transform {
    case .affine(let constraint): return "SpatialTransformer(constraint=\(constraint.rawValue), align_corners=False)"
    case .projective: return "SpatialTransformer(transform=projective, align_corners=False)"
    case .thinPlateSpline(let gridSize): return "SpatialTransformer(transform=tps, control_points=\(gridSize)x\(gridSize), align_corners=False)"
    }
  }

  /// Just the transform's parameters for input x (N,C,H,W), the localization pass (for batched
  /// rectification and inspection): theta (N,2,3), the homography (N,3,3) or the control
  /// points' source positions (N,K,2).
  public func theta(_ x: Variable, in graph: Graph) -> Variable {
    let parameters = localization.forward(x, in: graph)
    switch transform {
    case .affine(let constraint): return graph.theta(parameters, constraint: constraint)
    case .projective: return graph.homography(parameters)
    case .thinPlateSpline:
      guard let splineBasis else { preconditionFailure("a TPS transformer has its basis") }
      return graph.controlPointSources(parameters, basis: splineBasis)
    }
  }

  /// The sampler alone: x (N,C,H,W) sampled on the grid of `theta` (what `theta(_:in:)`
  /// returns) -> (N,C,H,W). `forward` is `sample(x, theta: theta(x))`. (A learned pipeline
  /// stage does not call it: it turns the theta into a pixel map for the chain's one resample.)
  public func sample(_ x: Variable, theta: Variable, in graph: Graph) -> Variable {
    // The fused kernels never materialize the (N,H,W,2) grid (the TPS one keeps it for its backward).
    switch transform {
    case .affine: return graph.affineGridSample(x, theta: theta, options: samplerOptions)
    case .projective: return graph.projectiveGridSample(x, homography: theta, options: samplerOptions)
    case .thinPlateSpline:
      guard let splineBasis else { preconditionFailure("a TPS transformer has its basis") }
      return graph.thinPlateSplineGridSample(x, sourcePoints: theta, basis: splineBasis, options: samplerOptions)
    }
  }

  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    let theta = theta(x, in: graph)
    let output = sample(x, theta: theta, in: graph)
    graph.taps[name + ".theta"] = theta
    graph.taps[name + ".output"] = output
    return output
  }
}
