import CMPI
import Foundation

/// The ranks of MPI_COMM_WORLD, through Open MPI loaded at run time (see CMPI.h).
///
/// Created once per process by `World.communicator()`; MPI_Finalize runs at exit (or never,
/// after `leaveWithoutFinalizing()` or `abort(code:)`). MPI is initialized with
/// MPI_THREAD_SERIALIZED and every call here holds one lock, so any thread may call (see the
/// ordering rule on `Communicator`).
public final class MPICommunicator: Communicator, @unchecked Sendable {
  public let rank: Int
  public let size: Int
  /// Open MPI's version line and this rank's host ("Open MPI v4.1.4, ... on node7").
  public let library: String
  public let host: String
  /// Serializes every MPI call (the promise MPI_THREAD_SERIALIZED asks of us).
  private let lock = NSLock()

  public var description: String { "rank \(rank) of \(size) on \(host) (\(library))" }

  /// Loads `library` (dlopen) and initializes MPI. `launch` only words the error when the
  /// library is missing. Call once per process: MPI can be initialized only once.
  public init(library: String, launch: String) throws {
    try MPICommunicator.call { message, capacity in stn_mpi_load(library, message, capacity) } onError: { status, reason in
      status == Int32(STN_MPI_NOT_LOADED)
        ? DistributedError.libraryUnavailable(library: library, launch: launch, reason: reason)
        : DistributedError.initializationFailed(reason: reason)
    }
    var rank: Int32 = 0, size: Int32 = 0, provided: Int32 = 0
    try MPICommunicator.call { message, capacity in stn_mpi_init(&rank, &size, &provided, message, capacity) } onError: { _, reason in
      DistributedError.initializationFailed(reason: reason)
    }
    // 2 is MPI_THREAD_SERIALIZED: calls from any thread, one at a time (the lock sees to that).
    guard provided >= 2 else {
      throw DistributedError.initializationFailed(reason: "the MPI library provides thread level \(provided); stn needs MPI_THREAD_SERIALIZED (2) or higher")
    }
    self.rank = Int(rank)
    self.size = Int(size)
    var version = [CChar](repeating: 0, count: 512)
    stn_mpi_library_version(&version, version.count)
    self.library = MPICommunicator.text(version)
    var name = [CChar](repeating: 0, count: 512)
    let named = MPICommunicator.call { message, capacity in stn_mpi_processor_name(&name, name.count, message, capacity) }
    self.host = named == nil ? MPICommunicator.text(name) : "?"
  }

  // MARK: - Collectives

  public func allreduce<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation) throws {
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
    try serialized { message, capacity in
      stn_mpi_allreduce(base, Int64(buffer.count), Scalar.element.mpiType, operation.mpiOperation, message, capacity)
    }
  }

  public func broadcast<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, root: Int) throws {
    try requireRoot(root)
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
    try serialized { message, capacity in
      stn_mpi_broadcast(base, Int64(buffer.count), Scalar.element.mpiType, Int32(root), message, capacity)
    }
  }

  public func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
    try requireRoot(root)
    var length = [Int64(rank == root ? bytes.count : 0)]
    try broadcast(&length, root: root)
    var received = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
    guard !received.isEmpty else { return [] }
    try received.withUnsafeMutableBytes { raw in
      try serialized { message, capacity in
        stn_mpi_broadcast(raw.baseAddress, Int64(raw.count), STN_MPI_BYTE, Int32(root), message, capacity)
      }
    }
    return received
  }

  public func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]] {
    try requireRoot(root)
    // Every rank learns every length (an allreduce of one slot per rank), so all of them
    // reach the same verdict on the sizes before the gather itself.
    var counts = [Int64](repeating: 0, count: size)
    counts[rank] = Int64(bytes.count)
    try allreduce(&counts, .sum)
    var received = [UInt8](repeating: 0, count: rank == root ? Int(counts.reduce(0, +)) : 0)
    try bytes.withUnsafeBytes { sent in
      try received.withUnsafeMutableBytes { into in
        try serialized { message, capacity in
          stn_mpi_gather_bytes(sent.baseAddress, counts, into.baseAddress, Int32(root), message, capacity)
        }
      }
    }
    guard rank == root else { return [] }
    var parts: [[UInt8]] = []
    var offset = 0
    for count in counts.map(Int.init) {
      parts.append(Array(received[offset..<offset + count]))
      offset += count
    }
    return parts
  }

  public func barrier() throws {
    try serialized { message, capacity in stn_mpi_barrier(message, capacity) }
  }

  public func abort(code: Int32) -> Never { stn_mpi_abort(code) }

  public func leaveWithoutFinalizing() { stn_mpi_skip_finalize() }

  public var seconds: Double { lock.withLock { stn_mpi_wtime() } }

  // MARK: - Helpers

  private func requireRoot(_ root: Int) throws {
    guard (0..<size).contains(root) else { throw DistributedError.callFailed(reason: "root \(root) is not a rank (world size \(size))") }
  }

  /// Runs one CMPI call under the lock; a non-OK status becomes `DistributedError.callFailed`.
  private func serialized(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
    try lock.withLock {
      try MPICommunicator.call(body) { _, reason in DistributedError.callFailed(reason: "rank \(rank) of \(size): \(reason)") }
    }
  }

  /// The NUL-terminated UTF-8 text in `buffer`.
  private static func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Runs one CMPI call with a message buffer; throws `onError(status, message)` on failure.
  private static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32,
                           onError: (Int32, String) -> DistributedError) throws {
    if let (status, reason) = call(body) { throw onError(status, reason) }
  }

  /// Runs one CMPI call with a message buffer; nil on success, else (status, message).
  private static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> (Int32, String)? {
    var message = [CChar](repeating: 0, count: 1024)
    let status = message.withUnsafeMutableBufferPointer { buffer -> Int32 in
      guard let base = buffer.baseAddress else { return Int32(STN_MPI_INVALID) }
      return body(base, buffer.count)
    }
    guard status != Int32(STN_MPI_OK) else { return nil }
    return (status, text(message))
  }
}

// MARK: - Mapping to CMPI

extension CommunicatorElement {
  var mpiType: stn_mpi_type {
    switch self {
    case .float32: return STN_MPI_FLOAT32
    case .float64: return STN_MPI_FLOAT64
    case .int64: return STN_MPI_INT64
    }
  }
}

extension ReductionOperation {
  var mpiOperation: stn_mpi_op {
    switch self {
    case .sum: return STN_MPI_SUM
    case .max: return STN_MPI_MAX
    case .min: return STN_MPI_MIN
    }
  }
}
