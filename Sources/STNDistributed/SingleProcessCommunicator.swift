import Foundation

/// The communicator of a process no launcher started: rank 0 of 1, every collective an
/// identity. `stn` without mpirun runs on this one and never loads MPI.
public final class SingleProcessCommunicator: Communicator {
  public init() {}

  public var rank: Int { 0 }
  public var size: Int { 1 }
  public var description: String { "single process" }

  public func allreduce<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation) throws {}

  public func broadcast<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, root: Int) throws {
    try requireRoot(root)
  }

  public func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
    try requireRoot(root)
    return bytes
  }

  public func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]] {
    try requireRoot(root)
    return [bytes]
  }

  public func barrier() throws {}

  public func abort(code: Int32) -> Never { exit(code) }

  public func leaveWithoutFinalizing() {}

  public var seconds: Double { ProcessInfo.processInfo.systemUptime }

  /// The only root there is: rank 0 (the same check MPI makes, so code that passes here with a
  /// wrong root does not first fail under mpirun).
  private func requireRoot(_ root: Int) throws {
    guard root == 0 else { throw DistributedError.callFailed(reason: "root \(root) is not a rank of this single process (only rank 0 exists)") }
  }
}
