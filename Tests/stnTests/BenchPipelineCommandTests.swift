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
}
