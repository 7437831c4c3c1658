/// A dense float32 tensor in row-major (C) order; images and activations are (N,C,H,W).
///
/// Value semantics (copy-on-write through `[Float]`). Kernels take raw pointers and sizes,
/// llm.c style; this type only owns storage and shape.
public struct Tensor: Equatable, Sendable {
  /// Sizes of each dimension, outermost first.
  public var shape: [Int]
  /// `shape.reduce(1, *)` elements, row-major.
  public var data: [Float]

  /// A tensor of the given shape filled with `value`.
  public init(shape: [Int], repeating value: Float = 0) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    self.shape = shape
    self.data = [Float](repeating: value, count: shape.reduce(1, *))
  }

  /// Wraps existing storage; `data.count` must equal the product of `shape`.
  public init(shape: [Int], data: [Float]) {
    precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) elements")
    self.shape = shape
    self.data = data
  }

  /// Number of elements.
  @inlinable public var count: Int { data.count }

  /// Number of dimensions.
  @inlinable public var rank: Int { shape.count }

  /// Same storage, new shape with the same element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(shape: newShape, data: data)
  }
}

extension Tensor {
  /// Largest absolute element-wise difference; `.infinity` when shapes differ.
  public func maxAbsDifference(_ other: Tensor) -> Float {
    guard shape == other.shape else { return .infinity }
    var worst: Float = 0
    for i in 0..<data.count {
      let d = abs(data[i] - other.data[i])
      if d.isNaN { return .nan }
      worst = max(worst, d)
    }
    return worst
  }
}
