// MARK: - TensorBoard messages

// Field numbers follow tensorboard/compat/proto/event.proto and summary.proto (checked against
// the descriptors of tensorboard 2.21's event_pb2 / summary_pb2):
//   Event          { double wall_time = 1; int64 step = 2;
//                    oneof what { string file_version = 3; Summary summary = 5; ... } }
//   Summary        { repeated Value value = 1; }
//   Summary.Value  { string tag = 1; SummaryMetadata metadata = 9;
//                    oneof value { float simple_value = 2; Image image = 4; HistogramProto histo = 5;
//                                  TensorProto tensor = 8; ... } }
//   SummaryMetadata { PluginData plugin_data = 1; string display_name = 2; string summary_description = 3;
//                    DataClass data_class = 4; }   (DATA_CLASS_BLOB_SEQUENCE = 3)
//   PluginData     { string plugin_name = 1; bytes content = 2; }
//   TensorProto    { DataType dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8; }
//                    (DT_STRING = 7); TensorShapeProto { repeated Dim dim = 2; }  Dim { int64 size = 1; }
//   Summary.Image  { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
//   HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4;
//                    double sum_squares = 5; repeated double bucket_limit = 6 [packed];
//                    repeated double bucket = 7 [packed]; }

/// The payload of one TensorBoard summary value.
public enum SummaryValue: Equatable, Sendable {
  /// A scalar curve point (`add_scalar`).
  case scalar(Float)
  /// An encoded image (PNG bytes) with its size; `channels` is the colorspace
  /// (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
  case image(encoded: [UInt8], width: Int, height: Int, channels: Int)
  /// A histogram of values (`add_histogram`).
  case histogram(Histogram)
  /// An encoded image with a markdown `description` that TensorBoard shows on the tag's card,
  /// in the form `tf.summary.image` writes: a string tensor [width, height, PNG] under the
  /// images plugin with its own metadata.
  ///
  /// NOTE: not a `Summary.Image` with metadata: TensorBoard's data server (the default reader
  /// since 2.5) drops the metadata of such legacy values, description included; the Python
  /// reader (`--load_fast=false`) keeps it either way.
  case describedImage(encoded: [UInt8], width: Int, height: Int, description: String)
}

/// The contents of a TensorBoard `HistogramProto`, built from values with equal-width buckets.
///
/// Buckets: `bucketCount` equal-width buckets spanning [min, max]; bucket i holds values in
/// (limit[i-1], limit[i]] (the first one starts at `min`), the convention TensorBoard reads
/// (left edge of bucket 0 = `min`). When all values are equal there is one bucket. TensorBoard
/// re-bins for display, so linear buckets lose nothing visible. Non-finite values (NaN, inf)
/// are left out of every statistic; with no finite values the histogram is empty (num 0, one
/// empty bucket at 0).
public struct Histogram: Equatable, Sendable {
  public var min: Double
  public var max: Double
  /// Number of values counted.
  public var count: Double
  public var sum: Double
  public var sumOfSquares: Double
  /// Right edge of each bucket, increasing.
  public var bucketLimits: [Double]
  /// Number of values in each bucket.
  public var bucketCounts: [Double]

  public init(min: Double, max: Double, count: Double, sum: Double, sumOfSquares: Double,
              bucketLimits: [Double], bucketCounts: [Double]) {
    precondition(bucketLimits.count == bucketCounts.count, "one count per bucket limit")
    self.min = min
    self.max = max
    self.count = count
    self.sum = sum
    self.sumOfSquares = sumOfSquares
    self.bucketLimits = bucketLimits
    self.bucketCounts = bucketCounts
  }

  /// Statistics and `bucketCount` equal-width buckets of the finite entries of `values`.
  public init(values: [Float], bucketCount: Int = 30) {
    let finite = values.lazy.filter { $0.isFinite }.map(Double.init)
    var low = Double.infinity, high = -Double.infinity, n = 0.0, total = 0.0, squares = 0.0
    for v in finite {
      low = Swift.min(low, v)
      high = Swift.max(high, v)
      n += 1
      total += v
      squares += v * v
    }
    guard n > 0 else {
      self.init(min: 0, max: 0, count: 0, sum: 0, sumOfSquares: 0, bucketLimits: [0], bucketCounts: [0])
      return
    }
    guard high > low else {
      self.init(min: low, max: high, count: n, sum: total, sumOfSquares: squares, bucketLimits: [high], bucketCounts: [n])
      return
    }
    let buckets = Swift.max(1, bucketCount)
    let width = (high - low) / Double(buckets)
    var counts = [Double](repeating: 0, count: buckets)
    for v in finite {
      // Right-closed buckets: v on a limit belongs to the bucket that limit closes.
      let position = (v - low) / width
      var index = Int(position.rounded(.up)) - 1
      index = Swift.min(buckets - 1, Swift.max(0, index))
      counts[index] += 1
    }
    var limits = (1...buckets).map { low + width * Double($0) }
    limits[buckets - 1] = high  // exact, whatever rounding did
    self.init(min: low, max: high, count: n, sum: total, sumOfSquares: squares, bucketLimits: limits, bucketCounts: counts)
  }
}

/// Serializes TensorBoard `Event` messages (protobuf wire format, proto3 defaults omitted).
public enum EventProto {
  /// The record every event file starts with: `Event{wall_time, file_version: "brain.Event:2"}`.
  public static func fileVersionEvent(wallTime: Double) -> [UInt8] {
    var event = ProtobufWriter()
    if wallTime != 0 { event.writeDouble(field: 1, wallTime) }
    event.writeString(field: 3, "brain.Event:2")
    return event.bytes
  }

  /// `Event{wall_time, step, summary{value{tag, <payload>, metadata}}}`.
  public static func summaryEvent(wallTime: Double, step: Int64, tag: String, value: SummaryValue) -> [UInt8] {
    var summaryValue = ProtobufWriter()
    if !tag.isEmpty { summaryValue.writeString(field: 1, tag) }
    switch value {
    case .scalar(let number):
      summaryValue.writeFloat(field: 2, number)
    case .image(let encoded, let width, let height, let channels):
      var image = ProtobufWriter()
      if height != 0 { image.writeInt(field: 1, Int64(height)) }
      if width != 0 { image.writeInt(field: 2, Int64(width)) }
      if channels != 0 { image.writeInt(field: 3, Int64(channels)) }
      if !encoded.isEmpty { image.writeBytes(field: 4, encoded) }
      summaryValue.writeMessage(field: 4, image)
    case .histogram(let histogram):
      summaryValue.writeMessage(field: 5, encode(histogram))
    case .describedImage(let encoded, let width, let height, let description):
      // Plugin "images" with empty content: ImagePluginData{version: 0}, as tf.summary.image.
      var plugin = ProtobufWriter()
      plugin.writeString(field: 1, "images")
      var metadata = ProtobufWriter()
      metadata.writeMessage(field: 1, plugin)
      if !description.isEmpty { metadata.writeString(field: 3, description) }
      metadata.writeInt(field: 4, 3)
      summaryValue.writeMessage(field: 9, metadata)
      var dimension = ProtobufWriter()
      dimension.writeInt(field: 1, 3)
      var shape = ProtobufWriter()
      shape.writeMessage(field: 2, dimension)
      var tensor = ProtobufWriter()
      tensor.writeInt(field: 1, 7)
      tensor.writeMessage(field: 2, shape)
      for item in [Array(String(width).utf8), Array(String(height).utf8), encoded] { tensor.writeBytes(field: 8, item) }
      summaryValue.writeMessage(field: 8, tensor)
    }
    var summary = ProtobufWriter()
    summary.writeMessage(field: 1, summaryValue)
    var event = ProtobufWriter()
    if wallTime != 0 { event.writeDouble(field: 1, wallTime) }
    if step != 0 { event.writeInt(field: 2, step) }
    event.writeMessage(field: 5, summary)
    return event.bytes
  }

  static func encode(_ histogram: Histogram) -> ProtobufWriter {
    var message = ProtobufWriter()
    if histogram.min != 0 { message.writeDouble(field: 1, histogram.min) }
    if histogram.max != 0 { message.writeDouble(field: 2, histogram.max) }
    if histogram.count != 0 { message.writeDouble(field: 3, histogram.count) }
    if histogram.sum != 0 { message.writeDouble(field: 4, histogram.sum) }
    if histogram.sumOfSquares != 0 { message.writeDouble(field: 5, histogram.sumOfSquares) }
    if !histogram.bucketLimits.isEmpty { message.writePackedDoubles(field: 6, histogram.bucketLimits) }
    if !histogram.bucketCounts.isEmpty { message.writePackedDoubles(field: 7, histogram.bucketCounts) }
    return message
  }
}
