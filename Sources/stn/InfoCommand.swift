import ArgumentParser
import Foundation
import STNFiles
import STNImageIO
import STNTensor

/// `stn info PATH...`: one JSON line per image (or IDX file); `--check` decodes everything.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Describe images, image folders and IDX files as JSON lines; --check validates a dataset.",
    discussion: """
      Prints one JSON object per line for each image, for example:
        {"path":"a.jpg","format":"jpeg","width":500,"height":375,"channels":3}
        {"path":"t.gz","format":"idx","width":28,"height":28,"channels":1,"count":9}
        {"path":"b.png","error":"PNG: unexpected end of file"}

      A folder is walked with the same rules as every other command (README, "Image \
      folders"): .jpg/.jpeg/.jpe/.jfif/.png images in any case, IDX files (names ending in \
      -ubyte or -ubyte.gz), hidden names skipped, symbolic-link loops not followed. Files of \
      other image formats (.bmp, .webp, ...) get an error line ("unsupported format"). A file \
      named directly is read whatever its name: the format comes from its first bytes.

      "channels" is what the file stores: 1 gray, 2 gray+alpha, 3 colour,
      4 colour+alpha or CMYK. IDX label files report 1x1.

      Without --check only headers are read, so a truncated or corrupt image can pass. \
      --check decodes every image completely (on --threads threads, with progress on a \
      terminal) and reports each file that fails with its reason: run it on a dataset before \
      training. Headers claiming more than --max-pixels pixels are errors (decompression-bomb \
      guard).

      Exit status: 0 if every file was read, 1 if any failed (or a path holds nothing to read).
      """)

  @Argument(help: "Image files, IDX files or folders.")
  var paths: [String]

  @Flag(name: [.customLong("check"), .customLong("decode")], help: "Decode every image completely, so damaged data is reported too (--decode is an alias).")
  var check = false

  @Option(parsing: .unconditional, help: "Threads for --check.")
  var threads: Int = 2

  @Option(parsing: .unconditional, help: "Largest image accepted, in pixels.")
  var maxPixels: Int = DecodeOptions.defaultMaxPixels

  func validate() throws {
    try requireCount(maxPixels, in: 1...Int(Int32.max) * 64, "--max-pixels")
    try requireCount(threads, in: 1...maxThreads, "--threads")
  }

  func run() throws {
    var lines: [(path: String, error: String?)] = []
    for path in paths {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        let scan: FolderScan
        do {
          scan = try FolderScan(root: path)
        } catch {
          lines.append((path, "\(error)"))
          continue
        }
        // Images in the order every command reads them (by class, then path), then IDX files.
        let folder = scan.images.isEmpty ? nil : try? ImageFolder(scan: scan)
        let files = (folder.map { dataset in (0..<dataset.count).map(dataset.sourcePath(at:)) } ?? []) + scan.idxFiles
        if files.isEmpty && scan.unsupported.isEmpty {
          lines.append((path, "no .jpg/.jpeg/.jpe/.jfif/.png or IDX files in this folder"))
        }
        lines += files.map { ($0, nil) }
        lines += scan.unsupported.map { ($0.path, $0.reason) }
      } else {
        lines.append((path, nil))
      }
    }
    let failed = describe(lines)
    if failed > 0 {
      if check { FileHandle.standardError.write(Data("\(failed) of \(lines.count) files failed\n".utf8)) }
      throw ExitCode(ExitStatus.failure)
    }
  }

  /// Prints the line of every file, in order (work spread over `threads`); returns how many failed.
  func describe(_ files: [(path: String, error: String?)]) -> Int {
    var results = [String](repeating: "", count: files.count)
    var failures = [Bool](repeating: false, count: files.count)
    let bar = ProgressBar(label: "check")
    let lock = NSLock()
    var done = 0
    results.withUnsafeMutableBufferPointer { out in
      failures.withUnsafeMutableBufferPointer { failed in
        guard let lines = out.baseAddress, let flags = failed.baseAddress else { return }
        parallelFor(chunks: files.count, threads: check ? threads : 1) { k in
          let (line, ok) = files[k].error.map { (Self.errorLine(path: files[k].path, error: $0), false) } ?? describe(files[k].path)
          lines[k] = line
          flags[k] = !ok
          if check {
            lock.lock()
            done += 1
            bar.update(done: done, total: files.count)
            lock.unlock()
          }
        }
      }
    }
    bar.finish()
    for line in results { print(line) }
    return failures.filter { $0 }.count
  }

  /// The line for one file, and whether it was read.
  func describe(_ path: String) -> (String, Bool) {
    do {
      let info = try ImageCodec.probe(path: path, maxPixels: maxPixels)
      if check && info.format != .idx {
        _ = try ImageCodec.decode(path: path, options: DecodeOptions(channels: 3, maxPixels: maxPixels))
      } else if check && info.format == .idx && info.width * info.height > 1 {  // label files report 1x1
        _ = try IDXDataset(images: path, labels: nil, maxPixels: maxPixels)
      }
      var fields: [(String, JSONText)] = [("path", .string(path)), ("format", .string(info.format.rawValue)), ("width", .int(info.width)),
                                          ("height", .int(info.height)), ("channels", .int(info.channels))]
      if info.format == .idx { fields.append(("count", .int(info.count))) }
      return (JSONText.object(fields).description, true)
    } catch let error as ImageError {
      return (Self.errorLine(path: path, error: error.reason), false)
    } catch {
      return (Self.errorLine(path: path, error: "\(error)"), false)
    }
  }

  static func errorLine(path: String, error: String) -> String {
    JSONText.object([("path", .string(path)), ("error", .string(error))]).description
  }
}
