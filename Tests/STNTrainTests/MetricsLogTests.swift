import Foundation
import XCTest
@testable import STNTrain

final class MetricsLogTests: XCTestCase {
  func testRoundTripAndResumeTruncation() throws {
    let folder = NSTemporaryDirectory() + "stn-metrics-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var log = MetricsLog(folder: folder)
    for epoch in 1...3 {
      try log.append(EpochMetrics(epoch: epoch, trainLoss: 1.5 / Double(epoch), trainAccuracy: 0.5, validationLoss: nil,
        validationAccuracy: 0.25 * Double(epoch), testAccuracy: nil, learningRate: 0.001, seconds: 2, imagesPerSecond: 100))
    }
    let csv = try String(contentsOfFile: log.csvPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
    XCTAssertEqual(csv[1], "1,1.5,0.5,,0.25,,0.001,2,100")
    let resumed = try MetricsLog.resume(folder: folder, throughEpoch: 2)
    XCTAssertEqual(resumed.rows, Array(log.rows.prefix(2)))
    XCTAssertNil(resumed.rows[0].validationLoss)
  }
}
