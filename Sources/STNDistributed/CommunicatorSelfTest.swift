import Foundation

/// A check of every collective with values whose results are known for any world size: run it
/// on all ranks at once (`mpirun -np N stn debug mpi-selftest`) or on one process (the unit
/// tests). Every rank runs the same calls in the same order, as collectives require.
public enum CommunicatorSelfTest {
  /// What the checks found.
  public struct Report: Sendable {
    /// Checks made on this rank.
    public var checks: Int
    /// Checks that failed on this rank, each "name: what was wrong".
    public var failures: [String]
    /// Failed checks summed over all ranks (every rank holds the same number).
    public var failuresOnAllRanks: Int
    /// Wall time of the checks, seconds (this rank).
    public var seconds: Double

    public var passed: Bool { failuresOnAllRanks == 0 }
  }

  /// Elements of the large reduction (4 MiB of floats: more than MPI's eager message size).
  static let largeCount = 1 << 20

  /// Runs the checks on every rank of `communicator`; throws only when a collective itself fails.
  public static func run(_ communicator: any Communicator) throws -> Report {
    let started = communicator.seconds
    let rank = communicator.rank, size = communicator.size
    let last = size - 1
    var checks = 0
    var failures: [String] = []
    func expect<T: Equatable>(_ name: String, _ got: T, _ expected: T) {
      checks += 1
      if got != expected { failures.append("\(name): got \(got), expected \(expected)") }
    }
    let triangle = size * (size - 1) / 2  // 0 + 1 + ... + (size - 1)

    // MARK: allreduce
    var floats: [Float] = [Float(rank + 1), 0.5, -Float(rank)]
    try communicator.allreduce(&floats, .sum)
    expect("allreduce sum Float", floats, [Float(triangle + size), 0.5 * Float(size), -Float(triangle)])
    var doubles: [Double] = [Double(rank), -Double(rank)]
    try communicator.allreduce(&doubles, .max)
    expect("allreduce max Double", doubles, [Double(last), 0])
    var integers: [Int64] = [Int64(rank) + 5, Int64.max - Int64(rank)]
    try communicator.allreduce(&integers, .min)
    expect("allreduce min Int64", integers, [5, Int64.max - Int64(last)])
    // 2^52 + rank summed: exact in Int64, not in Double, so this is an integer reduction.
    let exact = try communicator.allreduce((Int64(1) << 52) + Int64(rank), .sum)
    expect("allreduce sum Int64 beyond 2^53", exact, Int64(size) << 52 + Int64(triangle))
    var large = [Float](repeating: Float(rank), count: largeCount)
    try communicator.allreduce(&large, .sum)
    expect("allreduce sum of \(largeCount) Floats", large.allSatisfy { $0 == Float(triangle) }, true)

    // MARK: broadcast
    var fromLast = [Float](repeating: Float(rank), count: 1000)
    try communicator.broadcast(&fromLast, root: last)
    expect("broadcast Float from rank \(last)", fromLast.allSatisfy { $0 == Float(last) }, true)
    let message = Array("héllo from rank 0 ✓".utf8) + (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let received = try communicator.broadcast(bytes: rank == 0 ? message : [7], root: 0)
    expect("broadcast bytes (\(message.count)) from rank 0", received, message)
    expect("broadcast empty bytes", try communicator.broadcast(bytes: [], root: 0), [])
    expect("broadcast string", try communicator.broadcast(string: rank == last ? "last" : "", root: last), "last")

    // MARK: gather
    let gathered = try communicator.gather(string: String(repeating: "r", count: rank) + "\(rank)✓", root: 0)
    expect("gather strings of different lengths", gathered,
           rank == 0 ? (0..<size).map { String(repeating: "r", count: $0) + "\($0)✓" } : [])
    expect("gather empty bytes", try communicator.gather(bytes: [], root: last), rank == last ? Array(repeating: [], count: size) : [])

    // MARK: agreement
    struct LastRankFailed: Error {}
    do {
      try communicator.collectively { if rank == last { throw LastRankFailed() } }
      expect("collectively: a failure on rank \(last) reaches every rank", "no error", "CollectiveFailure")
    } catch let failure as CollectiveFailure {
      expect("collectively: failed ranks", failure.failedRanks, [last])
      expect("collectively: own error only where it failed", failure.localError is LastRankFailed, rank == last)
    }
    expect("collectively: success", try communicator.collectively { rank * 2 }, rank * 2)
    try communicator.barrier()

    // MARK: misuse is an error, not a hang (checked before any communication, on every rank)
    do {
      var ignored: [Float] = [0]
      try communicator.broadcast(&ignored, root: size)
      expect("broadcast from a root that is not a rank", "no error", "DistributedError")
    } catch {
      expect("broadcast from a root that is not a rank", error is DistributedError, true)
    }

    let failuresOnAllRanks = Int(try communicator.allreduce(Int64(failures.count), .sum))
    return Report(checks: checks, failures: failures, failuresOnAllRanks: failuresOnAllRanks,
                  seconds: communicator.seconds - started)
  }
}
