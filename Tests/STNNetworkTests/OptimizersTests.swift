import Foundation
import STNTensor
import XCTest

@testable import STNNetwork

/// Optimizer steps against values printed by `torch.optim` for the same parameters and
/// gradients (p0 = [1, -2, 0.5]; gradients [0.5,-1,0.25], [0.1,0.3,-0.7], [-0.4,0.2,0.05]).
final class OptimizersTests: XCTestCase {
  private let gradients: [[Float]] = [[0.5, -1.0, 0.25], [0.1, 0.3, -0.7], [-0.4, 0.2, 0.05]]

  private func run(_ make: (ParameterStore) throws -> Optimizer) throws -> [Float] {
    let store = ParameterStore()
    _ = store.add(name: "p", shape: [3], initial: [1, -2, 0.5])
    let optimizer = try make(store)
    for g in gradients {
      optimizer.zeroGradients()
      XCTAssertEqual(store.gradients, [0, 0, 0])
      store.gradients = g
      optimizer.step()
    }
    XCTAssertEqual(optimizer.stepCount, 3)
    return store.values
  }

  private func assertClose(_ actual: [Float], _ expected: [Float], accuracy: Float = 2e-6, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, file: file, line: line)
    for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: accuracy, file: file, line: line) }
  }

  func testSGDPlainIsHandComputed() throws {
    // p - 0.1 * sum(g): [1 - 0.1*0.2, -2 - 0.1*(-0.5), 0.5 - 0.1*(-0.4)]
    assertClose(try run { try SGD(parameters: $0, learningRate: 0.1) }, [0.98, -1.95, 0.54])
  }

  func testSGDMomentumDampeningWeightDecayMatchesPyTorch() throws {
    assertClose(
      try run { try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) },
      [0.8782632350921631, -1.787986159324646, 0.5448209047317505])
  }

  func testSGDNesterovMatchesPyTorch() throws {
    assertClose(
      try run { try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05) },
      [0.8397982716560364, -1.7001941204071045, 0.5742954015731812])
  }

  func testAdamMatchesPyTorch() throws {
    assertClose(try run { try Adam(parameters: $0, learningRate: 0.1) }, [0.8103260397911072, -1.8367640972137451, 0.47994405031204224])
  }

  func testAdamFirstStepIsHandComputed() throws {
    // Step 1: m̂ = g, v̂ = g², so p -= lr · g / (|g| + eps) = lr · sign(g).
    let store = ParameterStore()
    _ = store.add(name: "p", shape: [2], initial: [1, 1])
    let adam = try Adam(parameters: store, learningRate: 0.1)
    store.gradients = [3, -0.5]
    adam.step()
    assertClose(store.values, [0.9, 1.1])
  }

  func testAdamWeightDecayMatchesPyTorch() throws {
    assertClose(
      try run { try Adam(parameters: $0, learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1) },
      [0.9790913462638855, -1.9803199768066406, 0.4967491030693054])
  }

  func testAdamWMatchesPyTorch() throws {
    assertClose(
      try run { try Adam.adamW(parameters: $0, learningRate: 0.05, weightDecay: 0.2) },
      [0.8768584728240967, -1.8601890802383423, 0.4758787751197815])
  }

  func testOptimizerConfigRebuildsTheSameOptimizer() throws {
    let store = ParameterStore()
    _ = store.add(name: "p", shape: [1], initial: [0])
    let sgd = try SGD(parameters: store, learningRate: 0.2, momentum: 0.5, nesterov: true)
    let rebuilt = try makeOptimizer(sgd.config, parameters: store)
    XCTAssertEqual(rebuilt.config, sgd.config)
    XCTAssertThrowsError(try makeOptimizer(OptimizerConfig(kind: "lbfgs", learningRate: 1), parameters: store))
    XCTAssertThrowsError(try SGD(parameters: store, learningRate: 0.1, nesterov: true))
    XCTAssertThrowsError(try Adam(parameters: store, learningRate: 0.1, beta1: 1))
  }

  func testOptimizerConfigDecodesWithPyTorchDefaults() throws {
    let adamW = try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "adamw", "lr": 0.002}"#.utf8))
    XCTAssertEqual(adamW, OptimizerConfig(kind: "adamw", learningRate: 0.002, weightDecay: 0.01))
    let sgd = try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true}"#.utf8))
    XCTAssertEqual(sgd, OptimizerConfig(kind: "sgd", learningRate: 0.1, momentum: 0.9, nesterov: true))
    XCTAssertThrowsError(try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "adam", "lr": 0.1, "betas": [0.9, 0.99]}"#.utf8))) { error in
      XCTAssertTrue("\(error)".contains("unknown key betas"), "\(error)")
    }
    let encoded = try JSONEncoder().encode(sgd)
    XCTAssertEqual(try JSONDecoder().decode(OptimizerConfig.self, from: encoded), sgd)
  }

  func testSchedulesMatchPyTorch() {
    let step = LearningRateSchedule.step(stepSize: 3, gamma: 0.5)
    XCTAssertEqual((0..<8).map { step.rate(epoch: $0, base: 0.1) }, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    let cosine = LearningRateSchedule.cosine(totalEpochs: 5, minimum: 0.001)
    let expected: [Float] = [0.1, 0.0905463412215599, 0.06579634122155989, 0.035203658778440096, 0.010453658778440105, 0.001]
    for epoch in 0..<6 { XCTAssertEqual(cosine.rate(epoch: epoch, base: 0.1), expected[epoch], accuracy: 1e-7) }
    XCTAssertEqual(LearningRateSchedule.constant.rate(epoch: 9, base: 0.3), 0.3)
  }

  func testSchedulesDecodeFromTheirWrittenForms() throws {
    func decode(_ json: String) throws -> LearningRateSchedule {
      try JSONDecoder().decode([LearningRateSchedule].self, from: Data("[\(json)]".utf8))[0]
    }
    XCTAssertEqual(try decode(#""constant""#), .constant)
    XCTAssertEqual(try decode(#""cosine""#).resolved(epochs: 10), .cosine(totalEpochs: 10, minimum: 0))
    XCTAssertEqual(try decode(#"{"step": {"step_size": 3}}"#), .step(stepSize: 3, gamma: 0.1))
    XCTAssertEqual(try decode(#"{"cosine": {"t_max": 5, "eta_min": 0.001}}"#), .cosine(totalEpochs: 5, minimum: 0.001))
    XCTAssertThrowsError(try decode(#"{"step": {"step_size": 3, "gama": 0.5}}"#))
    XCTAssertThrowsError(try decode(#""linear""#))
    for schedule in [LearningRateSchedule.constant, .step(stepSize: 2, gamma: 0.5), .cosine(totalEpochs: 7, minimum: 0)] {
      let data = try JSONEncoder().encode([schedule])
      XCTAssertEqual(try JSONDecoder().decode([LearningRateSchedule].self, from: data), [schedule])
    }
  }
}
