import ArgumentParser
import Foundation
import STNFiles
import STNImageIO

/// `stn info PATH...`: one JSON line per image (or IDX file), read from headers only.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Describe images, image folders and IDX files as JSON lines.",
    discussion: """
      Prints one JSON object per line for each image, for example:
        {"path":"a.jpg","format":"jpeg","width":500,"height":375,"channels":3}
        {"path":"t.gz","format":"idx","width":28,"height":28,"channels":1,"count":9}
        {"path":"b.png","error":"PNG: unexpected end of file"}

      A folder is searched recursively for .jpg/.jpeg/.png files (any case)
      and IDX files (names ending in -ubyte or -ubyte.gz); hidden files and
      folders are skipped. A file named directly is read whatever its name:
      the format comes from its first bytes.

      "channels" is what the file stores: 1 gray, 2 gray+alpha, 3 colour,
      4 colour+alpha or CMYK. IDX label files report 1x1.

      Only headers are read unless --decode is given. Headers claiming more
      than --max-pixels pixels are errors (decompression-bomb guard).

      Exit status: 0 if every file was read, 1 if any failed.
      """)

  @Argument(help: "Image files, IDX files or folders.")
  var paths: [String]

  @Flag(help: "Decode every image fully (slower), so damaged data is reported too.")
  var decode = false

  @Option(help: "Largest image accepted, in pixels.")
  var maxPixels: Int = DecodeOptions.defaultMaxPixels

  func validate() throws {
    guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
  }

  func run() throws {
    var failed = false
    for path in paths {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        let files = Self.listFolder(path)
        if files.isEmpty {
          print(Self.errorLine(path: path, error: "no .jpg/.jpeg/.png or IDX files in this folder"))
          failed = true
        }
        for file in files where !describe(file) { failed = true }
      } else if !describe(path) {
        failed = true
      }
    }
    if failed { throw ExitCode(1) }
  }

  /// Prints the line for one file; false when it failed.
  func describe(_ path: String) -> Bool {
    do {
      let info = try ImageCodec.probe(path: path, maxPixels: maxPixels)
      if decode && info.format != .idx {
        _ = try ImageCodec.decode(path: path, options: DecodeOptions(channels: 3, maxPixels: maxPixels))
      } else if decode && info.format == .idx && info.width * info.height > 1 {  // label files report 1x1
        _ = try IDXDataset(images: path, labels: nil, maxPixels: maxPixels)
      }
      var line = "{\"path\":\(Self.json(path)),\"format\":\"\(info.format.rawValue)\",\"width\":\(info.width),"
      line += "\"height\":\(info.height),\"channels\":\(info.channels)"
      if info.format == .idx { line += ",\"count\":\(info.count)" }
      print(line + "}")
      return true
    } catch let error as ImageError {
      print(Self.errorLine(path: path, error: error.reason))
    } catch {
      print(Self.errorLine(path: path, error: "\(error)"))
    }
    return false
  }

  // MARK: - Helpers

  static func errorLine(path: String, error: String) -> String {
    "{\"path\":\(json(path)),\"error\":\(json(error))}"
  }

  /// Image and IDX files under `folder`, recursively, sorted; hidden entries skipped.
  static func listFolder(_ folder: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
    var found: [String] = []
    while let relative = enumerator.nextObject() as? String {
      let name = (relative as NSString).lastPathComponent
      if name.hasPrefix(".") {
        enumerator.skipDescendants()
        continue
      }
      let lower = name.lowercased()
      if ImageFolder.isImageName(name) || lower.hasSuffix("-ubyte") || lower.hasSuffix("-ubyte.gz") {
        let full = (folder as NSString).appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
          found.append(full)
        }
      }
    }
    return found.sorted()
  }

  /// A JSON string literal: quotes, backslashes and control characters escaped (RFC 8259).
  static func json(_ text: String) -> String { JSONString.quoted(text) }
}
