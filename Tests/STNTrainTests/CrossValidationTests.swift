import Foundation
import XCTest
@testable import STNTrain

final class CrossValidationTests: XCTestCase {
  func testThreeFoldsReportMeanAndStd() throws {
    let folder = NSTemporaryDirectory() + "stn-cv-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let provider = ToyProvider(count: 90, classes: 3, seed: 2)
    var settings = TrainSettings()
    settings.epochs = 2
    settings.learningRate = 0.5
    let report = try CrossValidation.run(folds: 3, provider: provider, seed: 4, folder: folder, resume: false) { fold, data, foldFolder in
      XCTAssertEqual(data.validationIndices.count, 30)
      XCTAssertEqual(data.trainIndices.count, 60)
      return Trainer(model: ToyClassifier(inputs: 4, classes: 3, seed: UInt64(fold)), data: data, settings: settings, folder: foldFolder, batchSize: 10)
    }
    XCTAssertEqual(report.folds.count, 3)
    XCTAssertGreaterThan(report.mean, 0.8)
    let accuracies = report.folds.map(\.bestValidationAccuracy)
    let mean = accuracies.reduce(0, +) / 3
    XCTAssertEqual(report.mean, mean, accuracy: 1e-12)
    let variance = accuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2
    XCTAssertEqual(report.standardDeviation, variance.squareRoot(), accuracy: 1e-12)
    let json = try String(contentsOfFile: folder + "/folds.json", encoding: .utf8)
    XCTAssertTrue(json.hasPrefix("{\"folds\":3,\"mean_val_acc\":"))
    for fold in 1...3 { XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/fold-\(fold)/best.safetensors")) }
  }
}
