import STNNetwork
import STNPipeline
import XCTest
@testable import STNTrain

final class InferenceModelTests: XCTestCase {
  /// Evaluation's deterministic mode drops every random stage (`random_affine`,
  /// `random_perspective`, `random_elastic`), centres a random pad, and keeps the rest.
  func testRemoveRandomStagesKeepsOnlyDeterministicStages() throws {
    let config = try PipelineConfig.parse(yaml: """
      decode: {channels: 1}
      stages:
        - pad: {size: [10, 10], position: random}
        - random_affine: {degrees: 10}
        - random_perspective: {distortion_scale: 0.5, p: 1}
        - perspective: {startpoints: [[0, 0], [9, 0], [9, 9], [0, 9]], endpoints: [[1, 0], [9, 1], [8, 9], [0, 8]]}
        - random_elastic: {sigma: 2}
        - resize: {size: [4, 4]}
      """)
    let spec = ModelSpec([.flatten, .linear(LinearSpec(out: nil))])
    var inference = InferenceModel(model: try Model(spec: spec, inputShape: [1, 4, 4], classCount: 2), classNames: ["a", "b"],
                                   config: config, preprocessing: nil, epoch: 0)
    inference.removeRandomStages()
    XCTAssertEqual(inference.config.stages.map(\.name), ["pad", "perspective", "resize"])
    XCTAssertEqual(inference.config.stages[0].stage, .pad(.canvas(width: 10, height: 10, position: .center)))
  }
}
