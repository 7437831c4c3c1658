import Foundation
import STNImageIO
import STNNetwork
import STNTensor
@testable import STNTrain

/// A tiny labelled image folder and pipeline for end-to-end tests of the real network.
enum SyntheticData {
  /// `root/left/*.png` and `root/right/*.png`: 8x8 gray images whose bright bar is in the left
  /// or right half, with seeded noise. Returns the root.
  @discardableResult
  static func writeFolder(_ root: String, perClass: Int = 12, seed: UInt64 = 1) throws -> String {
    var random = RandomStream(seed: seed)
    for (label, name) in ["left", "right"].enumerated() {
      for k in 0..<perClass {
        var pixels = [UInt8](repeating: 0, count: 64)
        let column = label == 0 ? Int(random.next() % 3) : 5 + Int(random.next() % 3)
        for y in 1..<7 { pixels[y * 8 + column] = 230 }
        for i in 0..<64 { pixels[i] = UInt8(min(255, Int(pixels[i]) + Int(random.next() % 20))) }
        try ImageCodec.write(Image(width: 8, height: 8, channels: 1, pixels: pixels), to: "\(root)/\(name)/\(k).png")
      }
    }
    return root
  }

  /// A pipeline over `data`.
  /// The default model is a small spatial-transformer CNN; `linearModel` is flatten + linear.
  static func pipeline(data: String, epochs: Int = 2, lr: Double = 0.01, valFraction: Double = 0.25, linearModel: Bool = false) -> String {
    let model = linearModel ? "  - flatten\n  - {linear: classes}\n" : """
      - spatial_transformer:
          localization: [flatten, {linear: 8}, relu, {linear: 6}]
      - {conv2d: {out: 4, kernel: 3, padding: 1}}
      - {max_pool2d: 2}
      - relu
      - flatten
      - {linear: classes}

    """
    return """
    name: tiny
    seed: 3
    source: {image_folder: \(data)}
    decode: {channels: 1}
    stages:
      - pad: {size: [12, 12]}
      - random_affine: {degrees: 10, translate: inside}
      - normalize: {mean: [0.5], std: [0.5]}
    batch: {size: 8, shuffle: true}
    model:
    \(model)train: {optimizer: adam, lr: \(lr), epochs: \(epochs), val_fraction: \(valFraction)}

    """
  }

  /// A fresh temporary folder.
  static func temporaryFolder(_ tag: String) -> String {
    let path = NSTemporaryDirectory() + "stn-\(tag)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// A checkpoint (12x12 gray, classes left/right) whose spatial transformer always predicts
  /// `theta`: the localization network's last Linear has weight 0 and bias theta.
  static func writeConstantThetaCheckpoint(_ theta: [Float], to path: String) throws -> String {
    let spec = try ModelSpec.fromJSON(
      #"[{"spatial_transformer":{"localization":["flatten",{"linear":4},"relu",{"linear":6}]}},"flatten",{"linear":"classes"}]"#,
      source: "test")
    let model = try Model(spec: spec, inputShape: [1, 12, 12], classCount: 2, seed: 1)
    guard let weight = model.parameters.parameter(named: "loc.3.weight"),
          let bias = model.parameters.parameter(named: "loc.3.bias") else { throw TrainSessionError("no loc.3 layer") }
    model.parameters.set(weight, to: Tensor(shape: [6, 4], repeating: 0))
    model.parameters.set(bias, to: Tensor(shape: [6], data: theta))
    let info = CheckpointInfo(classNames: ["left", "right"], preprocessing: Preprocessing(channels: 1, height: 12, width: 12, mean: [0.5], std: [0.5]))
    try Checkpoint.save(model: model, optimizer: nil, info: info, to: path)
    return path
  }
}
