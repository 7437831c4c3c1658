import Foundation
import STNTestSupport
import XCTest

final class BenchPipelineCommandTests: XCTestCase {
  private let fixtures = Golden.packageRoot + "/Tests/STNPipelineFixtures"

  func testBenchCommandsPrintOneJSONLineEach() throws {
    let decode = try STNBinary.run(["bench", "decode", "--input", fixtures, "--runs", "1"])
    XCTAssertEqual(decode.status, 0, decode.stderr)
    XCTAssertTrue(decode.stdout.hasPrefix("{\"bench\":\"B4\",\"images_per_s\":"), decode.stdout)
    XCTAssertTrue(decode.stdout.contains("\"images\":3"))
    let pipeline = try STNBinary.run(["bench", "pipeline", "--input", fixtures, "--runs", "1", "--psnr", "3"])
    XCTAssertEqual(pipeline.status, 0, pipeline.stderr)
    let lines = pipeline.stdout.split(separator: "\n")
    XCTAssertEqual(lines.count, 2)
    XCTAssertTrue(lines[0].hasPrefix("{\"bench\":\"B3\",\"pipeline\":\"built-in B3\",\"images_per_s\":"), pipeline.stdout)
    XCTAssertTrue(lines[1].contains("psnr"))
  }

  /// `--kernels` selects the warp kernels of the folder benches and is reported; a bad value is
  /// one line and exit 64.
  func testKernelsOption() throws {
    let pipeline = try STNBinary.run(["bench", "pipeline", "--input", fixtures, "--runs", "1", "--kernels", "portable"])
    XCTAssertEqual(pipeline.status, 0, pipeline.stderr)
    XCTAssertTrue(pipeline.stdout.contains("\"kernels\":\"portable\""), pipeline.stdout)
    let augment = try STNBinary.run(["bench", "augment", "--input", fixtures, "--runs", "1", "--kernels", "portable",
                                     "--pipeline", Golden.packageRoot + "/bench/pipelines/photos-perspective.yaml"])
    XCTAssertEqual(augment.status, 0, augment.stderr)
    XCTAssertTrue(augment.stdout.contains("\"kernels\":\"portable\""), augment.stdout)
    let wrong = try STNBinary.run(["bench", "augment", "--input", fixtures, "--kernels", "sse9"])
    XCTAssertEqual(wrong.status, 64, wrong.stderr)
    XCTAssertTrue(wrong.stderr.contains("--kernels must be best, avx512, avx2 or portable, got sse9"), wrong.stderr)
  }
}
