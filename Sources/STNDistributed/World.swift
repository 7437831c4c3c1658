import Foundation

/// How this process was started, read from the environment before MPI is touched: by an MPI
/// launcher (one of several ranks) or not.
public struct Launch: Equatable, Sendable, CustomStringConvertible {
  /// The launcher, in words ("Open MPI's mpirun").
  public var launcher: String
  /// The variable that shows it ("OMPI_COMM_WORLD_SIZE=2"), for messages.
  public var evidence: String
  /// How many processes the launcher started, when it says (`OMPI_COMM_WORLD_SIZE`, or an srun
  /// step's `SLURM_STEP_NUM_TASKS`); MPI must see as many, or the ranks would each run alone.
  public var size: Int?

  public init(launcher: String, evidence: String, size: Int?) {
    self.launcher = launcher
    self.evidence = evidence
    self.size = size
  }

  public var description: String { "\(launcher), \(evidence)" }

  /// The launcher that started a process with `environment`, or nil (then `stn` runs as one
  /// process and never loads MPI). First match wins:
  /// - `STN_MPI=off` (or 0, no, false): nil, whatever else is set.
  /// - `OMPI_COMM_WORLD_SIZE`: Open MPI's mpirun/mpiexec (any size, 1 too).
  /// - `PMIX_RANK`: a PMIx launcher (`srun --mpi=pmix`, prterun).
  /// - `SLURM_PROCID` with more than one task in the *step*: `SLURM_STEP_NUM_TASKS` > 1 (or, if
  ///   that is absent, `SLURM_NTASKS` > 1 when `SLURM_STEP_ID` is set). NOTE: a batch script's
  ///   own shell carries `SLURM_NTASKS=N` and `SLURM_PROCID=0` for the whole allocation, so a
  ///   plain `stn` line in an sbatch script must not count as rank 0 of N; only an srun step does.
  public static func detect(in environment: [String: String]) -> Launch? {
    if let switchValue = environment["STN_MPI"], ["off", "0", "no", "false"].contains(switchValue.lowercased()) { return nil }
    let procID = environment["SLURM_PROCID"]
    let stepTasks = procID == nil ? nil : (environment["SLURM_STEP_NUM_TASKS"].flatMap { Int($0) }
      ?? (environment["SLURM_STEP_ID"] != nil ? environment["SLURM_NTASKS"].flatMap { Int($0) } : nil))
    if let size = environment["OMPI_COMM_WORLD_SIZE"] {
      return Launch(launcher: "Open MPI's mpirun", evidence: "OMPI_COMM_WORLD_SIZE=\(size)", size: Int(size))
    }
    if let rank = environment["PMIX_RANK"] {
      return Launch(launcher: "a PMIx launcher", evidence: "PMIX_RANK=\(rank)", size: stepTasks)
    }
    if let procID, let stepTasks, stepTasks > 1 {
      return Launch(launcher: "Slurm's srun", evidence: "SLURM_PROCID=\(procID) of a \(stepTasks)-task step", size: stepTasks)
    }
    return nil
  }
}

/// The one communicator of this process.
public enum World {
  /// The Open MPI library loaded under a launcher; `STN_MPI_LIBRARY` names another (a full
  /// path, or a name the loader finds through LD_LIBRARY_PATH).
  public static let defaultLibrary = "libmpi.so.40"

  private static let lock = NSLock()
  nonisolated(unsafe) private static var decided: Result<any Communicator, any Error>?

  /// Decides on the first call, from the environment (`Launch.detect`): a launcher started
  /// this process -> load Open MPI and initialize it (`MPICommunicator`); otherwise the
  /// `SingleProcessCommunicator`, and MPI is never loaded. Later calls return the same
  /// communicator (or throw the same error): MPI can be initialized only once per process.
  /// Throws `DistributedError.libraryUnavailable` when a launcher is detected but the library
  /// cannot be loaded, `.initializationFailed` when MPI does not start or sees fewer ranks
  /// than the launcher started (srun without PMI support starts N lone "rank 0 of 1"
  /// processes, which would each do the whole job).
  public static func communicator(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Communicator {
    try lock.withLock {
      if let decided { return try decided.get() }
      let result = Result<any Communicator, any Error> {
        guard let launch = detect(environment) else { return SingleProcessCommunicator() }
        let world = try MPICommunicator(library: environment["STN_MPI_LIBRARY"] ?? defaultLibrary, launch: launch.description)
        if let expected = launch.size, expected != world.size {
          throw DistributedError.initializationFailed(reason: "\(launch.launcher) started \(expected) processes (\(launch.evidence)), but MPI sees \(world.size): Open MPI cannot reach this launcher (with Slurm use srun --mpi=pmix, or mpirun)")
        }
        return world
      }
      decided = result
      return try result.get()
    }
  }

  /// The communicator if `communicator()` has succeeded already, else nil (for code that must
  /// not start MPI itself, such as a signal handler).
  public static var current: (any Communicator)? {
    lock.withLock { try? decided?.get() }
  }

  private static func detect(_ environment: [String: String]) -> Launch? { Launch.detect(in: environment) }
}
