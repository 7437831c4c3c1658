import Foundation

/// An output folder held by one `stn` run at a time: the folder itself is locked with `flock`
/// for as long as this object lives (the kernel drops the lock when the process ends, however
/// it ends), so nothing is added to the folder. A second run writing into the same folder
/// (`stn train` twice with the same `--output`, or `stn augment` while another one writes
/// there) stops before its first write with one line, instead of interleaving checkpoints or
/// images.
///
/// NOTE: advisory and best effort: on a file system that cannot lock (some network mounts) the
/// run goes ahead unlocked rather than refusing to run.
public final class FolderLock: @unchecked Sendable {
  /// The folder held.
  public let folder: String
  private let descriptor: Int32

  private init(folder: String, descriptor: Int32) {
    self.folder = folder
    self.descriptor = descriptor
  }

  deinit { if descriptor >= 0 { close(descriptor) } }

  /// Holds `folder` (which must exist) or throws a `FileError` when another run holds it.
  /// `flag` names the folder in messages ("--output", "run").
  public static func acquire(_ folder: String, flag: String = "--output") throws -> FolderLock {
    let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw FileError(path: folder, reason: "cannot open the \(flag) folder: \(String(cString: strerror(errno)))")
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      let held = errno == EWOULDBLOCK
      close(descriptor)
      if held {
        throw FileError(path: folder, reason: "another stn run is writing into this \(flag) folder; wait for it to finish, or choose another folder")
      }
      return FolderLock(folder: folder, descriptor: -1)
    }
    return FolderLock(folder: folder, descriptor: descriptor)
  }
}
