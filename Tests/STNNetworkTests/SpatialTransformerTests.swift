import Foundation
import STNTensor
import STNWarp
import XCTest

@testable import STNNetwork

/// Constraint parameterizations, the identity start, and learning to undo a known distortion.
final class SpatialTransformerTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  func testConstraintsStartAtIdentityAndTheirGradientsMatchFiniteDifferences() {
    for constraint in TransformConstraint.allCases {
      XCTAssertEqual(constraint.theta(constraint.identityParameters), [1, 0, 0, 0, 1, 0], "\(constraint)")
      var random = RandomStream(seed: 3, salt: UInt64(constraint.parameterCount))
      let p = (0..<constraint.parameterCount).map { _ in Float(random.uniform(-0.8, 0.8)) }
      let g = (0..<6).map { _ in Float(random.uniform(-1, 1)) }
      let analytic = constraint.parameterGradient(p, thetaGradient: g)
      for i in 0..<p.count {
        let epsilon: Float = 1e-3
        var plus = p, minus = p
        plus[i] += epsilon
        minus[i] -= epsilon
        let fPlus = zip(constraint.theta(plus), g).reduce(0) { $0 + Double($1.0 * $1.1) }
        let fMinus = zip(constraint.theta(minus), g).reduce(0) { $0 + Double($1.0 * $1.1) }
        XCTAssertEqual(analytic[i], Float((fPlus - fMinus) / Double(2 * epsilon)), accuracy: 1e-3, "\(constraint) parameter \(i)")
      }
    }
    // rts by hand: angle 90°, scale e^0 = 1, translation (0.5, -0.25).
    let t = TransformConstraint.rts.theta([Float.pi / 2, 0, 0.5, -0.25])
    for (a, e) in zip(t, [0, -1, 0.5, 1, 0, -0.25] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-6) }
  }

  func testIdentityInitializationReturnsTheInput() throws {
    let spec = ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.conv2d(Conv2DSpec(out: 2, kernel: 3)), .relu, .flatten, .linear(LinearSpec(out: 6))])),
      .flatten, .linear(LinearSpec(out: nil)),
    ])
    let model = try Model(spec: spec, inputShape: [2, 7, 9], classCount: 2)
    let graph = Graph(parameters: model.parameters)
    let input = GraphTests.randomTensor([3, 2, 7, 9], seed: 4)
    _ = model.forward(graph, input)
    let output = graph.value(try XCTUnwrap(graph.taps["st.output"]))
    XCTAssertLessThanOrEqual(output.maxAbsDifference(input), 1e-5)
  }

  /// Every family starts at the identity: the projective and TPS transformers return the
  /// input exactly as the affine one does (their identity grids are affine_grid's bit for bit).
  func testEveryFamilyStartsAtTheIdentity() throws {
    let input = GraphTests.randomTensor([3, 2, 7, 9], seed: 4)
    var outputs: [Tensor] = []
    for (transform, expectedTheta) in [
      (SpatialTransformerSpec(localization: [], constraint: .affine), [3, 2, 3]),
      (SpatialTransformerSpec(localization: [], transform: .projective), [3, 3, 3]),
      (SpatialTransformerSpec(localization: [], transform: .tps), [3, 16, 2]),
    ] {
      var st = transform
      st.localization = [.conv2d(Conv2DSpec(out: 2, kernel: 3)), .relu, .flatten, .linear(LinearSpec(out: nil, sizedBy: .theta))]
      let model = try Model(spec: ModelSpec([.spatialTransformer(st), .flatten, .linear(LinearSpec(out: nil))]), inputShape: [2, 7, 9], classCount: 2)
      let view = model.inspect(input)
      let theta = try XCTUnwrap(view.taps["st.theta"])
      XCTAssertEqual(theta.shape, expectedTheta)
      let identity = st.spatialTransform.identityParameters
      if st.transform == .projective { XCTAssertEqual(Array(theta.data[0..<9]), identity + [1]) }
      outputs.append(try XCTUnwrap(view.taps["st.output"]))
    }
    XCTAssertLessThanOrEqual(outputs[0].maxAbsDifference(input), 1e-5)
    XCTAssertEqual(outputs[1].data, outputs[0].data)
    XCTAssertEqual(outputs[2].data, outputs[0].data)
  }

  // MARK: - End to end

  /// Smooth blob images (N,1,size,size) with their mass inside the central region.
  private func blobImages(count: Int, size: Int, seed: UInt64) -> Tensor {
    var images = Tensor(shape: [count, 1, size, size])
    var random = RandomStream(seed: seed, salt: 5)
    for n in 0..<count {
      let blobs = (0..<3).map { _ in
        (x: random.uniform(-0.4, 0.4), y: random.uniform(-0.4, 0.4), sigma: random.uniform(0.12, 0.25), weight: random.uniform(0.5, 1))
      }
      for y in 0..<size {
        for x in 0..<size {
          let u = (2 * Double(x) + 1) / Double(size) - 1, v = (2 * Double(y) + 1) / Double(size) - 1
          var value = 0.0
          for blob in blobs {
            let d2 = (u - blob.x) * (u - blob.x) + (v - blob.y) * (v - blob.y)
            value += blob.weight * Foundation.exp(-d2 / (2 * blob.sigma * blob.sigma))
          }
          images.data[(n * size + y) * size + x] = Float(value)
        }
      }
    }
    return images
  }

  /// Trains a transformer (localization: 4x4 average pool -> flatten -> linear) to map distorted images back to
  /// the originals (MSE), and returns the mean theta it predicts on fresh distorted images.
  private func learnUndistortion(constraint: TransformConstraint, distortion: [Float], steps: Int) throws -> [Float] {
    let size = 16, batch = 16
    let store = ParameterStore()
    var random = RandomStream(seed: 11)
    let shape = [1, size, size]
    // A coarse view (4x4 block means) keeps the localization small, so Adam's per-weight
    // steps do not add up to large jumps of theta.
    let pool = AvgPool2D(inputShape: shape, kernel: 4)
    let localization = Sequential(
      [pool, Flatten(inputShape: pool.outputShape),
       Linear(store: store, name: "loc.2.", inFeatures: 16, outFeatures: constraint.parameterCount, random: &random)],
      inputShape: shape)
    let transformer = SpatialTransformer(localization: localization, constraint: constraint, name: "st", store: store)
    let adam = try Adam(parameters: store, learningRate: 0.01)
    let graph = Graph(parameters: store)
    let options = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)

    func distorted(_ images: Tensor) -> Tensor {
      let g = Graph()
      let theta = Tensor(shape: [images.shape[0], 2, 3], data: (0..<images.shape[0]).flatMap { _ in distortion })
      let grid = g.affineGrid(g.input(theta), size: images.shape, alignCorners: false)
      return g.value(g.gridSample(g.input(images), grid: grid, options: options))
    }

    for step in 0..<steps {
      let originals = blobImages(count: batch, size: size, seed: UInt64(step))
      graph.reset()
      let output = transformer.forward(graph.input(distorted(originals)), in: graph)
      let loss = graph.meanSquaredError(output, target: originals)
      adam.zeroGradients()
      graph.backward(loss)
      adam.step()
    }
    graph.reset()
    let test = distorted(blobImages(count: batch, size: size, seed: 10_000))
    let theta = graph.value(transformer.theta(graph.input(test), in: graph))
    return (0..<6).map { i in (0..<batch).map { theta.data[$0 * 6 + i] }.reduce(0, +) / Float(batch) }
  }

  /// The transform that undoes `theta` when sampling: the inverse of [theta; 0 0 1].
  private func inverse(_ t: [Float]) -> [Float] {
    let det = t[0] * t[4] - t[1] * t[3]
    let a = t[4] / det, b = -t[1] / det, d = -t[3] / det, e = t[0] / det
    return [a, b, -(a * t[2] + b * t[5]), d, e, -(d * t[2] + e * t[5])]
  }

  func testTransformerLearnsToUndoAFixedAffineDistortion() throws {
    // Rotation 20°, scale 1.1, a little shear and translation.
    let angle = Float(20) * .pi / 180
    let distortion: [Float] = [1.1 * cos(angle), -1.1 * sin(angle) + 0.05, 0.1, 1.1 * sin(angle), 1.1 * cos(angle), -0.08]
    let expected = inverse(distortion)
    let learned = try learnUndistortion(constraint: .affine, distortion: distortion, steps: 200)
    for i in 0..<6 { XCTAssertEqual(learned[i], expected[i], accuracy: 0.03, "theta[\(i)]: learned \(learned), expected \(expected)") }
  }

  func testRotationScaleTranslationConstraintLearnsTheInverse() throws {
    let angle = Float(-25) * .pi / 180
    let distortion: [Float] = [0.9 * cos(angle), -0.9 * sin(angle), -0.1, 0.9 * sin(angle), 0.9 * cos(angle), 0.05]
    let expected = inverse(distortion)
    let learned = try learnUndistortion(constraint: .rts, distortion: distortion, steps: 150)
    for i in 0..<6 { XCTAssertEqual(learned[i], expected[i], accuracy: 0.03, "theta[\(i)]: learned \(learned), expected \(expected)") }
  }
}
