import Foundation
import STNDistributed

/// The ranks of a data-parallel run as threads of one process: the trainer's multi-rank paths
/// tested without mpirun. Each collective waits for every rank of the group, combines their
/// buffers in rank order (so every rank gets the same bits), and hands the result back.
/// `tamper` lets a test change one rank's allreduce result (MPI does not promise equal sums).
final class ThreadGroupCommunicator: Communicator, @unchecked Sendable {
  /// What the ranks of one group share.
  private final class Group: @unchecked Sendable {
    let size: Int
    let condition = NSCondition()
    var deposited: [Any?]
    var arrived = 0
    var generation = 0
    var results: [Int: Any] = [:]
    var reads: [Int: Int] = [:]
    init(size: Int) {
      self.size = size
      deposited = Array(repeating: nil, count: size)
    }
  }

  let rank: Int
  let size: Int
  private let group: Group
  /// Called on this rank's float allreduce results (after the sum), to make ranks disagree.
  var tamper: ((inout [Float]) -> Void)?

  private init(rank: Int, group: Group) {
    self.rank = rank
    self.size = group.size
    self.group = group
  }

  /// `size` communicators, one per rank, of one group.
  static func group(size: Int) -> [ThreadGroupCommunicator] {
    let shared = Group(size: size)
    return (0..<size).map { ThreadGroupCommunicator(rank: $0, group: shared) }
  }

  /// Runs `body(rank, communicator)` on one thread per rank and returns each rank's outcome.
  static func run<Value>(size: Int, configure: (ThreadGroupCommunicator) -> Void = { _ in },
                         _ body: @escaping @Sendable (Int, ThreadGroupCommunicator) throws -> Value) -> [Result<Value, any Error>] {
    let ranks = group(size: size)
    ranks.forEach(configure)
    let outcomes = Outcomes<Value>()
    let done = DispatchGroup()
    for rank in 0..<size {
      done.enter()
      let thread = Thread { [ranks] in
        let result = Result { try body(rank, ranks[rank]) }
        outcomes.lock.withLock { outcomes.results[rank] = result }
        done.leave()
      }
      thread.stackSize = 8 << 20
      thread.start()
    }
    done.wait()
    return (0..<size).map { rank in outcomes.lock.withLock { outcomes.results[rank] ?? .failure(CancellationError()) } }
  }

  /// Each rank's outcome, filled by its thread.
  private final class Outcomes<Value>: @unchecked Sendable {
    let lock = NSLock()
    var results: [Int: Result<Value, any Error>] = [:]
  }

  var description: String { "thread rank \(rank) of \(size)" }

  /// Deposits `value`, waits for every rank, and returns `combine` of all of them (rank order).
  private func collective<T>(_ value: T, _ combine: ([T]) -> T) -> T {
    group.condition.lock()
    defer { group.condition.unlock() }
    let generation = group.generation
    group.deposited[rank] = value
    group.arrived += 1
    if group.arrived == size {
      group.results[generation] = combine(group.deposited.map { $0 as! T })
      group.reads[generation] = 0
      group.deposited = Array(repeating: nil, count: size)
      group.arrived = 0
      group.generation += 1
      group.condition.broadcast()
    } else {
      while group.generation == generation { group.condition.wait() }
    }
    let result = group.results[generation] as! T
    group.reads[generation, default: 0] += 1
    if group.reads[generation] == size {
      group.results[generation] = nil
      group.reads[generation] = nil
    }
    return result
  }

  func allreduce<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation) throws {
    let combined = collective(Array(buffer)) { parts in
      var result = parts[0]
      for part in parts.dropFirst() {
        for i in result.indices {
          switch operation {
          case .max: result[i] = max(result[i], part[i])
          case .min: result[i] = min(result[i], part[i])
          case .sum: result[i] = ThreadGroupCommunicator.add(result[i], part[i])
          }
        }
      }
      return result
    }
    var mine = combined
    if var floats = mine as? [Float], let tamper, operation == .sum {
      tamper(&floats)
      mine = floats as! [Scalar]
    }
    for i in mine.indices { buffer[i] = mine[i] }
  }

  private static func add<Scalar: CommunicatorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar {
    switch (a, b) {
    case let (x as Float, y as Float): return (x + y) as! Scalar
    case let (x as Double, y as Double): return (x + y) as! Scalar
    case let (x as Int64, y as Int64): return (x + y) as! Scalar
    default: return a
    }
  }

  func broadcast<Scalar: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, root: Int) throws {
    let values = collective(Array(buffer)) { $0[root] }
    for i in values.indices { buffer[i] = values[i] }
  }

  func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] { collective(bytes) { $0[root] } }

  func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]] {
    let all: [[UInt8]] = collective([bytes]) { (parts: [[[UInt8]]]) in parts.flatMap { $0 } }
    return rank == root ? all : []
  }

  func barrier() throws { _ = collective(0) { $0[0] } }

  func abort(code: Int32) -> Never { fatalError("rank \(rank) aborted with \(code)") }

  func leaveWithoutFinalizing() {}

  var seconds: Double { ProcessInfo.processInfo.systemUptime }
}
