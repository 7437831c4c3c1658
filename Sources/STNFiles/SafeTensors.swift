import Foundation
import STNTensor

/// Element types a safetensors file may hold (the format's `dtype` strings).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
  case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .F64, .I64: return 8
    case .F32, .I32: return 4
    case .F16, .BF16, .I16: return 2
    case .I8, .U8, .BOOL: return 1
    }
  }
}

/// One tensor entry of a safetensors file: its type, shape and raw little-endian bytes.
public struct SafeTensorsEntry: Sendable {
  public var dtype: SafeTensorsDType
  public var shape: [Int]
  public var bytes: [UInt8]

  public init(dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) {
    self.dtype = dtype
    self.shape = shape
    self.bytes = bytes
  }

  /// A float32 entry holding `tensor`.
  public init(_ tensor: Tensor) {
    dtype = .F32
    shape = tensor.shape
    bytes = tensor.data.withUnsafeBytes { [UInt8]($0) }
  }

  /// The values converted to Float (any numeric dtype; F64/I64 values are rounded).
  public var floats: [Float] {
    let n = bytes.count / dtype.size
    return bytes.withUnsafeBytes { raw -> [Float] in
      func load<T>(_ type: T.Type, _ i: Int) -> T { raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self) }
      switch dtype {
      case .F32: return (0..<n).map { Float(bitPattern: UInt32(littleEndian: load(UInt32.self, $0))) }
      case .F64: return (0..<n).map { Float(Double(bitPattern: UInt64(littleEndian: load(UInt64.self, $0)))) }
      case .F16: return (0..<n).map { SafeTensorsEntry.halfToFloat(UInt16(littleEndian: load(UInt16.self, $0))) }
      case .BF16: return (0..<n).map { Float(bitPattern: UInt32(UInt16(littleEndian: load(UInt16.self, $0))) << 16) }
      case .I64: return (0..<n).map { Float(Int64(littleEndian: load(Int64.self, $0))) }
      case .I32: return (0..<n).map { Float(Int32(littleEndian: load(Int32.self, $0))) }
      case .I16: return (0..<n).map { Float(Int16(littleEndian: load(Int16.self, $0))) }
      case .I8: return (0..<n).map { Float(load(Int8.self, $0)) }
      case .U8, .BOOL: return (0..<n).map { Float(load(UInt8.self, $0)) }
      }
    }
  }

  /// The entry as a float32 tensor of its shape.
  public var tensor: Tensor { Tensor(shape: shape, data: floats) }

  static func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
      let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
      return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
  }
}

/// A safetensors file: named tensors plus a string-to-string metadata map.
///
/// Format (huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then
/// the data buffer that the offsets index. The reader checks every bound before it trusts it:
/// header length against the file, offsets against the buffer, byte counts against shapes,
/// overlaps between tensors, and a cap on the header size, so a damaged or hostile file gives a
/// `FileError` and never a crash or a huge allocation.
public struct SafeTensorsFile: Sendable {
  /// Tensors by name.
  public var tensors: [String: SafeTensorsEntry]
  /// The `__metadata__` map (empty when absent).
  public var metadata: [String: String]

  public init(tensors: [String: SafeTensorsEntry] = [:], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Largest header accepted (the reference implementation's limit is 100 MB).
  public static let maximumHeaderBytes = 100_000_000

  /// Reads and validates the file at `path`.
  public init(contentsOf path: String) throws {
    let bytes = try AtomicFile.read(path)
    try self.init(bytes: bytes, path: path)
  }

  /// Parses and validates `bytes`; `path` only names the source in errors.
  public init(bytes: [UInt8], path: String = "<memory>") throws {
    func fail(_ reason: String) -> FileError { FileError(path: path, reason: "not a valid safetensors file: \(reason)") }
    guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes, shorter than the 8-byte header length") }
    var headerLength: UInt64 = 0
    for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    guard headerLength <= UInt64(SafeTensorsFile.maximumHeaderBytes) else { throw fail("header length \(headerLength) is over the 100 MB limit") }
    guard headerLength <= UInt64(bytes.count - 8) else { throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file") }
    let headerEnd = 8 + Int(headerLength)
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]))
    } catch {
      throw fail("header is not JSON")
    }
    guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
    let bufferSize = bytes.count - headerEnd
    var tensors: [String: SafeTensorsEntry] = [:]
    var metadata: [String: String] = [:]
    var spans: [(Int, Int, String)] = []
    for (name, value) in header {
      if name == "__metadata__" {
        guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
        for (key, item) in map {
          guard let text = item as? String else { throw fail("metadata value for \(key) is not a string") }
          metadata[key] = text
        }
        continue
      }
      guard let info = value as? [String: Any] else { throw fail("entry \(name) is not an object") }
      guard let dtypeName = info["dtype"] as? String, let dtype = SafeTensorsDType(rawValue: dtypeName) else {
        throw fail("entry \(name) has a missing or unsupported dtype")
      }
      guard let shapeValues = info["shape"] as? [Any], let offsets = info["data_offsets"] as? [Any], offsets.count == 2 else {
        throw fail("entry \(name) lacks shape or data_offsets")
      }
      var shape: [Int] = []
      var elements = 1
      for item in shapeValues {
        guard let number = item as? NSNumber, number.doubleValue >= 0, number.doubleValue == number.doubleValue.rounded(), number.doubleValue < 1e15 else {
          throw fail("entry \(name) has a bad dimension")
        }
        let dimension = number.intValue
        let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
        guard !overflow, product <= bufferSize else { throw fail("entry \(name) claims shape larger than the file") }
        elements = product
        shape.append(dimension)
      }
      guard let beginNumber = offsets[0] as? NSNumber, let endNumber = offsets[1] as? NSNumber,
        beginNumber.doubleValue >= 0, endNumber.doubleValue >= beginNumber.doubleValue,
        endNumber.doubleValue <= Double(bufferSize)
      else { throw fail("entry \(name) has data_offsets outside the \(bufferSize)-byte data buffer") }
      let begin = beginNumber.intValue, end = endNumber.intValue
      guard end - begin == elements * dtype.size else {
        throw fail("entry \(name) holds \(end - begin) bytes but shape \(shape) of \(dtype) needs \(elements * dtype.size)")
      }
      spans.append((begin, end, name))
      tensors[name] = SafeTensorsEntry(dtype: dtype, shape: shape, bytes: Array(bytes[(headerEnd + begin)..<(headerEnd + end)]))
    }
    spans.sort { $0.0 < $1.0 }
    for i in spans.indices.dropFirst() where spans[i].0 < spans[i - 1].1 {
      throw fail("entries \(spans[i - 1].2) and \(spans[i].2) overlap")
    }
    self.tensors = tensors
    self.metadata = metadata
  }

  /// The named tensor as float32, or a `FileError` naming what is missing.
  public func tensor(_ name: String, path: String = "<memory>") throws -> Tensor {
    guard let entry = tensors[name] else { throw FileError(path: path, reason: "no tensor named \(name)") }
    return entry.tensor
  }

  /// The serialized file: header padded with spaces to a multiple of 8, tensors in name order.
  public func serialized() -> [UInt8] {
    var header = "{"
    var offset = 0
    var parts: [String] = []
    if !metadata.isEmpty {
      let items = metadata.keys.sorted().map { "\(JSONText.quote($0)):\(JSONText.quote(metadata[$0]!))" }
      parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
    }
    let names = tensors.keys.sorted()
    for name in names {
      let entry = tensors[name]!
      let end = offset + entry.bytes.count
      parts.append("\(JSONText.quote(name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(entry.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    header += parts.joined(separator: ",") + "}"
    var headerBytes = Array(header.utf8)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + headerBytes.count + offset)
    let length = UInt64(headerBytes.count)
    for i in 0..<8 { out.append(UInt8((length >> (8 * UInt64(i))) & 0xFF)) }
    out += headerBytes
    for name in names { out += tensors[name]!.bytes }
    return out
  }

  /// Writes the file atomically.
  public func write(to path: String) throws {
    try AtomicFile.write(serialized(), to: path)
  }
}
