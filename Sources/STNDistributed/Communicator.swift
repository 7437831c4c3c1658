import Foundation

// MARK: - The protocol

/// The processes of one run and the collective operations between them: one process
/// (`SingleProcessCommunicator`, every call an identity) or the ranks an MPI launcher started
/// (`MPICommunicator`). `World.communicator()` picks one at start-up.
///
/// Collectives are matched by order: every rank must make the same calls, in the same order,
/// with the same counts and root, or the job hangs (MPI's rule). Errors are thrown, never
/// fatal. Thread safety: an implementation serializes its calls, so any thread may call; but
/// because of the ordering rule a program should make them from one thread (`stn` calls them
/// from the main thread; its worker threads never do).
public protocol Communicator: AnyObject, Sendable, CustomStringConvertible {
  /// This process's rank, in 0..<size.
  var rank: Int { get }
  /// How many processes take part.
  var size: Int { get }

  /// Reduces `buffer` element-wise over all ranks, in place: afterwards every rank holds the
  /// sum (max, min). Float sums are not bitwise independent of the rank count (summation order).
  func allreduce<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation) throws

  /// Copies `root`'s `buffer` into every rank's `buffer` (same count on every rank).
  func broadcast<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, root: Int) throws

  /// Returns `root`'s `bytes` on every rank (the argument is ignored on the other ranks; the
  /// length need not be known in advance).
  func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8]

  /// Collects every rank's `bytes` on `root`, in rank order (lengths may differ); the other
  /// ranks get `[]`.
  func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]

  /// Returns when every rank has called it.
  func barrier() throws

  /// Ends every rank of the job now with `code` (MPI_Abort): for failures the other ranks
  /// cannot learn about through a collective (they would wait forever).
  func abort(code: Int32) -> Never

  /// Marks this process as leaving on its own (a signal): MPI_Finalize is not called at exit,
  /// because it would wait for ranks that are still working. The launcher ends the others.
  func leaveWithoutFinalizing()

  /// Seconds on a clock that only moves forward (MPI_Wtime under MPI), for timing.
  var seconds: Double { get }
}

/// How `allreduce` combines the ranks' elements.
public enum ReductionOperation: Sendable, CaseIterable {
  case sum, max, min
}

/// The element types a communicator reduces and broadcasts: Float, Double and Int64.
public protocol CommunicatorScalar: Sendable, Comparable {
  /// MPI's name for the type.
  static var element: CommunicatorElement { get }
}

/// MPI element types (MPI_FLOAT, MPI_DOUBLE, MPI_INT64_T).
public enum CommunicatorElement: Sendable {
  case float32, float64, int64
}

extension Float: CommunicatorScalar { public static var element: CommunicatorElement { .float32 } }
extension Double: CommunicatorScalar { public static var element: CommunicatorElement { .float64 } }
extension Int64: CommunicatorScalar { public static var element: CommunicatorElement { .int64 } }

// MARK: - Errors

/// Why a communicator could not start or a collective failed. Each case is one line a user
/// can act on.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
  /// A launcher started this process, but Open MPI's library could not be loaded.
  case libraryUnavailable(library: String, launch: String, reason: String)
  /// MPI could not be initialized, or provides a thread level below MPI_THREAD_SERIALIZED.
  case initializationFailed(reason: String)
  /// An MPI call failed or was used wrongly; `reason` names the call and MPI's words.
  case callFailed(reason: String)

  public var description: String {
    switch self {
    case .libraryUnavailable(let library, let launch, let reason):
      return "started by an MPI launcher (\(launch)), but Open MPI's library \(library) cannot be loaded (\(reason)); install Open MPI (apt-get install openmpi-bin), or run stn without mpirun/srun"
    case .initializationFailed(let reason): return "MPI could not start: \(reason)"
    case .callFailed(let reason): return reason
    }
  }
}

/// A failure every rank agreed on (see `Communicator.collectively`): on the ranks that failed,
/// `localError` is their own error; on the others it is nil. All ranks throw it together, so
/// they can all end normally (MPI_Finalize) instead of leaving the others waiting.
public struct CollectiveFailure: Error, CustomStringConvertible {
  /// The ranks that failed, ascending.
  public var failedRanks: [Int]
  /// This rank's own error, if it is one of `failedRanks`.
  public var localError: (any Error)?
  /// The world size, for messages ("rank 1 of 2").
  public var size: Int

  public init(failedRanks: [Int], localError: (any Error)?, size: Int) {
    self.failedRanks = failedRanks
    self.localError = localError
    self.size = size
  }

  public var description: String {
    if let localError { return "\(localError)" }
    let names = failedRanks.map(String.init).joined(separator: ", ")
    return "rank\(failedRanks.count == 1 ? "" : "s") \(names) of \(size) failed (its own Error line says why)"
  }
}

// MARK: - Conveniences

extension Communicator {
  /// True when more than one process takes part.
  public var isDistributed: Bool { size > 1 }

  /// True on rank 0, the rank that prints and writes shared files.
  public var isRoot: Bool { rank == 0 }

  /// `allreduce` of an array, in place.
  public func allreduce<Scalar: CommunicatorScalar>(_ values: inout [Scalar], _ operation: ReductionOperation) throws {
    try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
  }

  /// `allreduce` of one value.
  public func allreduce<Scalar: CommunicatorScalar>(_ value: Scalar, _ operation: ReductionOperation) throws -> Scalar {
    var values = [value]
    try allreduce(&values, operation)
    return values[0]
  }

  /// `broadcast` of an array, in place (same count on every rank).
  public func broadcast<Scalar: CommunicatorScalar>(_ values: inout [Scalar], root: Int) throws {
    try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
  }

  /// `root`'s string on every rank.
  public func broadcast(string: String, root: Int) throws -> String {
    String(decoding: try broadcast(bytes: Array(string.utf8), root: root), as: UTF8.self)
  }

  /// Every rank's string on `root`, in rank order (`[]` elsewhere).
  public func gather(string: String, root: Int) throws -> [String] {
    try gather(bytes: Array(string.utf8), root: root).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Runs `body` on every rank and agrees on the outcome: when it throws on any rank, every
  /// rank throws a `CollectiveFailure` naming the ranks that failed (with its own error where
  /// it is one of them); otherwise every rank gets its own result. One allreduce of `size`
  /// integers. This is how a step that may fail on one rank (its data, its disk) avoids
  /// leaving the others waiting in the next collective.
  public func collectively<Value>(_ body: () throws -> Value) throws -> Value {
    let outcome = Result<Value, any Error> { try body() }
    var failed = [Int64](repeating: 0, count: size)
    if case .failure = outcome { failed[rank] = 1 }
    if size > 1 { try allreduce(&failed, .max) }
    let failedRanks = failed.indices.filter { failed[$0] != 0 }
    switch outcome {
    case .success(let value) where failedRanks.isEmpty: return value
    case .success: throw CollectiveFailure(failedRanks: failedRanks, localError: nil, size: size)
    case .failure(let error): throw CollectiveFailure(failedRanks: failedRanks, localError: error, size: size)
    }
  }
}
