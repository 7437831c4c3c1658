import ArgumentParser
import Dispatch
import Foundation
import STNDistributed
import STNFiles
import STNPipeline
import STNTrain

// Shared by the commands: exit statuses, bounded flags, interruption, the learned stage's
// predictor, the progress bar, ending a rank-aware command under mpirun.

// MARK: - Exit statuses

/// The exit statuses of every `stn` command (one table, in the README and `stn --help`).
enum ExitStatus {
  /// Finished; everything was done.
  static let success: Int32 = 0
  /// Could not start or failed: bad pipeline, data, checkpoint or output; I/O error. One
  /// `Error:` line says why; nothing was written when it could be known before the work.
  static let failure: Int32 = 1
  /// `stn train` stopped on a non-finite loss or parameter; the last good checkpoint is kept.
  static let nonFinite: Int32 = 2
  /// Finished, but some inputs were skipped (unreadable, unsupported format); each is named.
  static let skipped: Int32 = 3
  /// A flag or its value is wrong (from the argument parser: EX_USAGE).
  static let usage: Int32 = 64
  /// Interrupted by SIGINT (Ctrl-C) / SIGTERM (128 + signal number).
  static let interrupted: Int32 = 130
  static let terminated: Int32 = 143

  /// The table as `--help` shows it.
  static let table = """
    Exit status (every command):
      0    done
      1    could not start or failed (bad pipeline, data, checkpoint or output; I/O)
      2    stn train stopped on a non-finite loss or parameter (last good checkpoint kept)
      3    done, but some inputs were skipped (each is named)
      64   wrong flag or flag value
      130  interrupted (Ctrl-C; 143 for SIGTERM); only complete files are left
    """
}

// MARK: - Bounded flags

/// Checks a count flag against its range: "--copies must be in 1...10000, got -3".
func requireCount(_ value: Int, in range: ClosedRange<Int>, _ flag: String) throws {
  guard range.contains(value) else { throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
}

/// Checks `--split` (augment, eval, export): "--split must be train or test, got 'val'".
func requireSplit(_ split: String?) throws {
  if let split, split != "train" && split != "test" { throw ValidationError("--split must be train or test, got '\(split)'") }
}

/// What `--split` does, in every command's `--help`.
let splitDiscussion = """
  A split picks the train-* or t10k-* files of a folder of IDX files (Fashion-MNIST's layout), \
  the --input folder's or, without --input, the pipeline source's. Given for data it cannot \
  apply to (an image folder, an IDX file of the other split) it is an error rather than ignored.
  """

/// Upper bound of `--threads` everywhere (far above any machine this runs on).
let maxThreads = 1024

// MARK: - Interruption

/// SIGINT/SIGTERM handling. Graceful commands (`stn augment`) stop taking new work on the
/// first signal, finish and commit the files in progress, and report what they finished; a
/// second signal (and the first, for other commands) removes this process's temporary files
/// and exits at once, so only complete files are ever left behind.
///
/// Under mpirun (more than one rank) every signal exits at once, without MPI_Finalize (which
/// would wait for ranks still at work). NOTE: Open MPI 4.1's mpirun answers Ctrl-C with SIGCONT,
/// then one second later SIGTERM to every rank, and SIGKILL to all the others as soon as one
/// rank exits: far too soon to finish files and combine a summary. So each rank removes its
/// temporary files at once, says so, and waits 0.3 s before exiting 143 (130 for SIGINT), so
/// the other ranks, signalled at the same moment, can remove theirs before the SIGKILL. Only
/// complete files are left under final names; `--skip-existing` resumes.
enum Interruption {
  nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
  private static let lock = NSLock()
  nonisolated(unsafe) private static var signalNumber: Int32 = 0

  /// The signal that asked the run to stop (0: none).
  static var received: Int32 {
    lock.lock()
    defer { lock.unlock() }
    return signalNumber
  }

  /// True once a stop was asked for.
  static var requested: Bool { received != 0 }

  /// The exit status for the signal received.
  static var exitStatus: Int32 { received == SIGTERM ? ExitStatus.terminated : ExitStatus.interrupted }

  /// Installs the handlers; `graceful` commands poll `requested`.
  static func install(graceful: Bool, note: String = "stopping: finishing the files in progress (Ctrl-C again to stop at once)") {
    let world = World.current
    let ranks = world.map { $0.isDistributed ? " (rank \($0.rank) of \($0.size))" : "" } ?? ""
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        lock.lock()
        let first = signalNumber == 0
        if first { signalNumber = number }
        lock.unlock()
        if graceful && first && ranks.isEmpty {
          FileHandle.standardError.write(Data("\n\(note)\n".utf8))
          return
        }
        world?.leaveWithoutFinalizing()
        AtomicFile.removeTemporaryFiles()
        FileHandle.standardError.write(Data("\ninterrupted\(ranks)\n".utf8))
        if !ranks.isEmpty { usleep(300_000) }  // see the NOTE above
        exit(number == SIGTERM ? ExitStatus.terminated : ExitStatus.interrupted)
      }
      source.resume()
      sources.append(source)
    }
  }
}

// MARK: - Under mpirun

/// Ends a rank-aware command the same way on every rank. Its steps that may fail on one rank
/// (its data, its disk) run inside `Communicator.collectively`, so a failure is known to all
/// ranks, which then end normally together instead of waiting for each other forever.
enum RankAware {
  /// Runs `body` and maps its failure to the exit of this rank:
  /// - one process: the error as it is, exactly as without MPI;
  /// - a `CollectiveFailure`: a rank that failed prints its own `Error:` line with its rank and
  ///   exits with its error's status; rank 0, when it did not fail itself, names the ranks that
  ///   did; the others stay quiet and exit 1. Every rank reaches MPI_Finalize.
  /// - any other error under mpirun (an MPI call failed, so the ranks may disagree on where
  ///   they are): its `Error:` line, then MPI_Abort ends every rank (no hang).
  static func run(_ world: any Communicator, _ body: () throws -> Void) throws {
    do {
      try body()
    } catch let failure as CollectiveFailure {
      guard world.isDistributed else { throw failure.localError ?? failure }
      if let local = failure.localError {
        report(local, on: world)
        throw ExitCode(STN.exitCode(for: local).rawValue)
      }
      if world.isRoot { FileHandle.standardError.write(Data("Error: \(failure)\n".utf8)) }
      throw ExitCode(ExitStatus.failure)
    } catch let exit as ExitCode {
      throw exit
    } catch {
      guard world.isDistributed else { throw error }
      report(error, on: world)
      world.abort(code: STN.exitCode(for: error).rawValue)
    }
  }

  /// For commands that run as one process only: under a launcher of several ranks, rank 0
  /// prints one `Error:` line saying so and every rank exits 1 (after MPI_Finalize).
  static func requireOneProcess(_ world: any Communicator, command: String) throws {
    guard world.isDistributed else { return }
    if world.isRoot {
      FileHandle.standardError.write(Data("Error: \(command) runs as one process, not under mpirun/srun (\(world.size) ranks were started): run it without the launcher\n".utf8))
    }
    throw ExitCode(ExitStatus.failure)
  }

  /// "Error: rank 1 of 2: <message>" on stderr.
  private static func report(_ error: any Error, on world: any Communicator) {
    FileHandle.standardError.write(Data("Error: rank \(world.rank) of \(world.size): \(STN.message(for: error))\n".utf8))
  }
}

// MARK: - The learned stage

/// The predictor for the pipeline's learned stage (nil when it has none); errors name
/// the checkpoint file.
func learnedPredictor(for config: PipelineConfig, threads: Int) throws -> CheckpointThetaPredictor? {
  guard let entry = config.learnedStage, case .learnedAffine(let checkpoint) = entry.stage else { return nil }
  do {
    return try CheckpointThetaPredictor.forPipeline(config, threads: threads)
  } catch let error as PipelineError {
    throw error
  } catch {
    // Loader errors usually start with the path already; name it once.
    let text = "\(error)"
    let reason = text.hasPrefix(checkpoint + ": ") ? String(text.dropFirst(checkpoint.count + 2)) : text
    throw FileError(path: checkpoint, reason: "\(entry.name) checkpoint: \(reason)")
  }
}

// MARK: - Progress

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
  let label: String
  let isActive: Bool
  private let started = Date()
  private var lastDraw = Date.distantPast

  init(label: String) {
    self.label = label
    isActive = isatty(2) != 0
  }

  /// Redraws at most ten times a second (callers serialize calls).
  func update(done: Int, total: Int) {
    guard isActive else { return }
    let now = Date()
    guard done == total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
    lastDraw = now
    let width = 30
    let filled = total > 0 ? width * done / total : width
    let rate = Double(done) / max(now.timeIntervalSince(started), 1e-6)
    let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
    FileHandle.standardError.write(Data(String(format: "\r%@ [%@] %d/%d %.0f img/s", label, bar, done, total, rate).utf8))
  }

  func finish() {
    if isActive { FileHandle.standardError.write(Data("\n".utf8)) }
  }
}
