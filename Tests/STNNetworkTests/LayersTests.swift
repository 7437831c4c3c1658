import STNTensor
import XCTest

@testable import STNNetwork

/// Layers: train/eval behaviour, PyTorch-style descriptions and default initialization.
final class LayersTests: XCTestCase {
  func testDropoutAndBatchNormFollowTheMode() throws {
    let spec = ModelSpec([.batchNorm2d(BatchNormSpec(momentum: 0.5)), .flatten, .dropout(probability: 0.5), .linear(LinearSpec(out: nil))])
    let model = try Model(spec: spec, inputShape: [2, 3, 3], classCount: 2)
    let input = GraphTests.randomTensor([4, 2, 3, 3], seed: 8, scale: 2)
    let norm = try XCTUnwrap(model.batchNorms.first)
    model.training = false
    let evalA = model.predict(input), evalB = model.predict(input)
    XCTAssertEqual(evalA, evalB)
    XCTAssertEqual(norm.numBatchesTracked, 0)
    model.training = true
    let graph = Graph(parameters: model.parameters)
    _ = model.forward(graph, input)
    XCTAssertEqual(norm.numBatchesTracked, 1)
    // Running mean moved halfway (momentum 0.5) toward the batch mean of channel 0.
    var sum: Float = 0
    for n in 0..<4 { for i in 0..<9 { sum += input.data[(n * 2) * 9 + i] } }
    XCTAssertEqual(norm.runningMean.data[0], 0.5 * sum / 36, accuracy: 1e-5)
    // Dropout zeroes about half of the features in training and scales the rest by 2.
    let dropped = try XCTUnwrap(graph.nodes.indices.first { graph.nodes[$0].op == "dropout" })
    let before = graph.values[dropped - 1].data, after = graph.values[dropped].data
    let zeros = after.filter { $0 == 0 }.count
    XCTAssertGreaterThan(zeros, 20)
    XCTAssertLessThan(zeros, 52)
    for i in 0..<after.count where after[i] != 0 { XCTAssertEqual(after[i], 2 * before[i], accuracy: 1e-6) }
  }

  func testDescriptionsReadLikePyTorch() {
    let store = ParameterStore()
    var random = RandomStream(seed: 1)
    let conv = Conv2D(store: store, name: "0.", inputShape: [3, 8, 8], outChannels: 4, kernel: 3, stride: 2, padding: 1, bias: false, random: &random)
    XCTAssertEqual(conv.moduleDescription, "Conv2d(3, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)")
    XCTAssertEqual(conv.outputShape, [4, 4, 4])
    XCTAssertNil(conv.bias)
    let linear = Linear(store: store, name: "1.", inFeatures: 64, outFeatures: 5, random: &random)
    XCTAssertEqual(linear.moduleDescription, "Linear(in_features=64, out_features=5, bias=True)")
    XCTAssertEqual(MaxPool2D(inputShape: [4, 5, 5], kernel: 2, ceilMode: true).moduleDescription,
      "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=True)")
    XCTAssertEqual(Activation(.leakyReLU(slope: 0.2), inputShape: [3]).moduleDescription, "LeakyReLU(negative_slope=0.2)")
    XCTAssertEqual(store.entries.map(\.name), ["0.weight", "1.weight", "1.bias"])
  }

  func testLinearInitializationBoundIsOneOverSqrtFanIn() {
    let store = ParameterStore()
    var random = RandomStream(seed: 2)
    let linear = Linear(store: store, name: "", inFeatures: 100, outFeatures: 50, random: &random)
    let weight = store.tensor(linear.weight).data, bias = store.tensor(linear.bias!).data
    XCTAssertLessThanOrEqual(weight.map { abs($0) }.max() ?? 1, 0.1)
    XCTAssertGreaterThan(weight.map { abs($0) }.max() ?? 0, 0.099)
    XCTAssertLessThanOrEqual(bias.map { abs($0) }.max() ?? 1, 0.1)
    // Uniform on ±b has variance b²/3.
    let variance = weight.reduce(0) { $0 + $1 * $1 } / Float(weight.count)
    XCTAssertEqual(variance, 0.01 / 3, accuracy: 0.0003)
  }
}
