import Foundation
import STNTestSupport
import XCTest

/// Issue 14: what every command promises on the command line: the exit-status table, --version,
/// --input/--output everywhere, nothing read is silently ignored, `info --check`.
final class CommandContractTests: XCTestCase {
  private let pipelines = Golden.packageRoot + "/pipelines"
  private let samples = Golden.packageRoot + "/samples/images"
  private var work = ""

  override func setUpWithError() throws {
    work = try makeTemporaryFolder("contract")
  }

  func testVersionAndOneExitStatusTableInEveryHelp() throws {
    let version = try STNBinary.run(["--version"])
    XCTAssertEqual(version.status, 0)
    XCTAssertTrue(version.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, version.stdout)
    for command in [[], ["augment"], ["export"], ["train"], ["eval"]] {
      let help = try STNBinary.run(command + ["--help"])
      XCTAssertEqual(help.status, 0, help.stderr)
      for line in ["0    done", "1    could not start or failed", "2    stn train stopped", "3    done, but some inputs were skipped", "64   wrong flag", "130  interrupted"] {
        XCTAssertTrue(help.stdout.contains(line), "\(command) --help lacks '\(line)'")
      }
    }
  }

  /// `--input` / `--output` are accepted by every command that reads / writes; `--data` and
  /// `--out` stay as aliases.
  func testInputAndOutputFlagsEverywhere() throws {
    for command in ["augment", "export", "eval", "train"] {
      let help = try STNBinary.run([command, "--help"]).stdout
      if command != "train" { XCTAssertTrue(help.contains("--input"), "\(command) --help lacks --input") }
      if command != "eval" { XCTAssertTrue(help.contains("--output"), "\(command) --help lacks --output") }
    }
    XCTAssertTrue(try STNBinary.run(["eval", "--help"]).stdout.contains("--data"))
    XCTAssertTrue(try STNBinary.run(["train", "--help"]).stdout.contains("--out "))
  }

  /// An empty folder, or a folder with only images of other formats, wrote nothing and exited 0.
  func testAugmentOfNothingReadableIsAnError() throws {
    try FileManager.default.createDirectory(atPath: work + "/empty", withIntermediateDirectories: true)
    let empty = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", work + "/empty", "--output", work + "/o"])
    XCTAssertEqual(empty.status, 1)
    XCTAssertTrue(empty.stderr.contains("no images"), empty.stderr)
    try FileManager.default.createDirectory(atPath: work + "/odd/c", withIntermediateDirectories: true)
    for name in ["a.bmp", "b.webp", "c.gif"] { try Data("x".utf8).write(to: URL(fileURLWithPath: work + "/odd/c/" + name)) }
    let odd = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", work + "/odd", "--output", work + "/o"])
    XCTAssertEqual(odd.status, 1)
    XCTAssertTrue(odd.stderr.contains("3 file(s) of unsupported formats"), odd.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/o"))
  }

  /// Unsupported image files beside readable ones are counted and named as skipped (status 3).
  func testUnsupportedFormatsAreNamedAsSkipped() throws {
    try FileManager.default.createDirectory(atPath: work + "/in/c", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: samples + "/sneaker/0.png", toPath: work + "/in/c/0.png")
    try Data("GIF89a".utf8).write(to: URL(fileURLWithPath: work + "/in/c/anim.gif"))
    let result = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", work + "/in", "--output", work + "/o"])
    XCTAssertEqual(result.status, 3, result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix("written 1, skipped 1"), result.stdout)
    XCTAssertTrue(result.stderr.contains("anim.gif: unsupported format (.gif)"), result.stderr)
  }

  /// A folder of IDX files is augmented as `<class>/<index>.png`.
  func testAugmentOfIDXWritesClassFolders() throws {
    let idx = Golden.packageRoot + "/Tests/STNImageIOTests/Fixtures/idx"
    let result = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", idx, "--split", "train", "--output", work + "/o"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let files = try FileManager.default.subpathsOfDirectory(atPath: work + "/o").filter { $0.hasSuffix(".png") }.sorted()
    XCTAssertEqual(files, ["0/00000.png", "0/00005.png", "1/00003.png", "2/00001.png", "2/00004.png", "4/00002.png"])
  }

  /// `stn info` reads headers only; `--check` decodes everything and reports what fails.
  func testInfoCheckFindsTruncatedImages() throws {
    try FileManager.default.createDirectory(atPath: work + "/data/c", withIntermediateDirectories: true)
    let good = try Data(contentsOf: URL(fileURLWithPath: samples + "/insect/ladybird.jpg"))
    try good.write(to: URL(fileURLWithPath: work + "/data/c/good.jpg"))
    try good.prefix(good.count * 2 / 3).write(to: URL(fileURLWithPath: work + "/data/c/cut.jpg"))
    let quick = try STNBinary.run(["info", work + "/data"])
    XCTAssertEqual(quick.status, 0, "headers alone pass: \(quick.stdout)")
    let checked = try STNBinary.run(["info", "--check", "--threads", "2", work + "/data"])
    XCTAssertEqual(checked.status, 1)
    let lines = checked.stdout.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 2)
    XCTAssertTrue(lines[0].contains("cut.jpg") && lines[0].contains("\"error\""), lines[0])
    XCTAssertTrue(lines[1].contains("good.jpg") && lines[1].contains("\"width\""), lines[1])
    XCTAssertTrue(checked.stderr.contains("1 of 2 files failed"), checked.stderr)
  }
}

extension CommandContractTests {
  /// `make install PREFIX=...` puts the binary and its shell completions in place (the copying
  /// step, `install-files`, run with the debug binary the tests use).
  func testMakeInstallPutsBinaryAndCompletions() throws {
    guard let binary = STNBinary.path else { throw XCTSkip("stn not built") }
    let make = Process()
    make.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    make.arguments = ["make", "-s", "-C", Golden.packageRoot, "install-files", "STN=\(binary)", "PREFIX=\(work)/prefix"]
    make.standardOutput = FileHandle.nullDevice
    try make.run()
    make.waitUntilExit()
    XCTAssertEqual(make.terminationStatus, 0)
    XCTAssertTrue(FileManager.default.isExecutableFile(atPath: work + "/prefix/bin/stn"))
    for file in ["share/bash-completion/completions/stn", "share/zsh/site-functions/_stn", "share/fish/vendor_completions.d/stn.fish"] {
      let text = try String(contentsOfFile: work + "/prefix/" + file, encoding: .utf8)
      XCTAssertTrue(text.contains("augment"), file)
    }
  }
}

extension CommandContractTests {
  /// Issue 10: one folder gives the same classes and samples in `info`, `augment`, `train`,
  /// `eval` and `export`: root files (class "."), hidden files, `.jpe`, nested folders and a
  /// symbolic-link loop.
  func testEveryCommandSeesTheSameFolder() throws {
    let data = work + "/data"
    let gray = samples + "/sneaker/0.png"
    for path in ["root.png", "b/1.png", "b/deep/er/2.png", "a/3.jpe", "a/.hidden.png", ".git/4.png", "a/5.PNG"] {
      try FileManager.default.createDirectory(atPath: (data + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      if path.hasSuffix(".jpe") {
        try FileManager.default.copyItem(atPath: samples + "/insect/wings-gray.jpg", toPath: data + "/" + path)
      } else {
        try FileManager.default.copyItem(atPath: gray, toPath: data + "/" + path)
      }
    }
    try FileManager.default.createSymbolicLink(atPath: data + "/b/deep/loop", withDestinationPath: data + "/b")
    let expected = ["root.png", "a/3.jpe", "a/5.PNG", "b/1.png", "b/deep/er/2.png"]  // class ".", then a, then b

    let info = try STNBinary.run(["info", data])
    XCTAssertEqual(info.status, 0, info.stdout)
    XCTAssertEqual(info.stdout.split(separator: "\n").map { line in
      String(line).components(separatedBy: "\"path\":\"").dropFirst().first?.components(separatedBy: "\"").first ?? ""
    }, expected.map { data + "/" + $0 })

    let augmented = work + "/augmented"
    let augment = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", data, "--output", augmented])
    XCTAssertEqual(augment.status, 0, augment.stderr)
    let written = try FileManager.default.subpathsOfDirectory(atPath: augmented).filter { $0.hasSuffix(".png") }.sorted()
    XCTAssertEqual(written, expected.map { ($0 as NSString).deletingPathExtension + ".png" }.sorted())

    let pipeline = work + "/tiny.yaml"
    try """
      source: {image_folder: \(data)}
      decode: {channels: 1}
      stages: [{resize: {size: [8, 8]}}]
      batch: {size: 4, shuffle: false}
      model:
        - spatial_transformer: {localization: [flatten, {linear: 6}]}
        - flatten
        - {linear: classes}
      train: {epochs: 1, val_fraction: 0}

      """.write(toFile: pipeline, atomically: true, encoding: .utf8)
    let train = try STNBinary.run(["train", pipeline, "--output", work + "/run", "--no-tensorboard", "--threads", "1"])
    XCTAssertEqual(train.status, 0, train.stderr)
    XCTAssertTrue(train.stdout.contains("classes: ., a, b\n"), train.stdout)
    XCTAssertTrue(train.stdout.contains("data: 5 images, 3 classes"), train.stdout)

    let eval = try STNBinary.run(["eval", work + "/run/last.safetensors", "--input", data, "--threads", "1"])
    XCTAssertEqual(eval.status, 0, eval.stderr)
    let report = try STNBinary.lastJSON(eval.stdout)
    XCTAssertEqual(report["classes"] as? [String], [".", "a", "b"])
    XCTAssertEqual(report["n"] as? Int, 5)

    let exported = work + "/rectified"
    let export = try STNBinary.run(["export", work + "/run/last.safetensors", "--input", data, "--output", exported])
    XCTAssertEqual(export.status, 0, export.stderr)
    XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: exported).filter { $0.hasSuffix(".png") }.sorted(), written)
  }
}

extension CommandContractTests {
  /// `decode: {exif_orientation: true}` writes what Pillow's `exif_transpose` shows; off (the
  /// default, as torchvision and Pillow's plain open) keeps the stored pixels.
  func testExifOrientationDecodeOption() throws {
    let fixtures = Golden.packageRoot + "/Tests/STNImageIOTests/Fixtures/exif"
    try FileManager.default.createDirectory(atPath: work + "/in/c", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: fixtures + "/orientation_6.jpg", toPath: work + "/in/c/o6.jpg")
    for exif in [false, true] {
      let pipeline = work + "/exif-\(exif).yaml"
      try "decode: {channels: 3, exif_orientation: \(exif)}\nstages: []\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
      let output = work + "/out-\(exif)"
      let result = try STNBinary.run(["augment", pipeline, "--input", work + "/in", "--output", output])
      XCTAssertEqual(result.status, 0, result.stderr)
      let written = try STNBinary.run(["info", output + "/c/o6.png"]).stdout
      let stored = try STNBinary.run(["info", fixtures + "/orientation_6.jpg"]).stdout
      let upright = try STNBinary.run(["info", fixtures + "/orientation_6.upright.png"]).stdout
      func size(_ line: String) -> String { line.components(separatedBy: "\"width\":").last?.components(separatedBy: ",\"channels\"").first ?? "" }
      XCTAssertEqual(size(written), size(exif ? upright : stored), "exif_orientation \(exif)")
    }
  }

  func testPNGLevelFlag() throws {
    try FileManager.default.createDirectory(atPath: work + "/in/c", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: samples + "/insect/ladybird.jpg", toPath: work + "/in/c/a.jpg")
    var sizes: [Int] = []
    for level in ["fast", "9"] {
      let result = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", work + "/in", "--output", work + "/o" + level, "--png-level", level])
      XCTAssertEqual(result.status, 0, result.stderr)
      sizes.append(try FileManager.default.attributesOfItem(atPath: work + "/o\(level)/c/a.png")[.size] as? Int ?? 0)
    }
    XCTAssertLessThan(sizes[1], sizes[0], "level 9 is smaller than fast on a photo")
    let bad = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", work + "/in", "--output", work + "/ox", "--png-level", "11"])
    XCTAssertEqual(bad.status, 64)
    XCTAssertTrue(bad.stderr.contains("--png-level must be fast or 0...9"), bad.stderr)
  }
}

extension CommandContractTests {
  /// The pipeline sheet: originals in cells of the outputs' size (224 here), two text lines under
  /// each pair (name; drawn parameters) — the layout `ContactSheetTests` checks in detail.
  func testExportSheetLayout() throws {
    let sheet = work + "/sheet.png"
    let result = try STNBinary.run(["export", pipelines + "/photos-augment.yaml", "--input", samples, "--output", sheet, "--count", "6"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.contains("6 samples, 1410x530"), result.stdout)
  }
}
