import Foundation
import STNTensor
import STNTestSupport
import XCTest

/// Base of the tests that run on a temporary folder holding a small synthetic image folder
/// (`folder/data`), with the run-time policy `stn` applies at start-up (single-threaded OpenBLAS
/// inside threaded kernels).
class SyntheticFolderTestCase: XCTestCase {
  /// Name of the temporary folder (a prefix) and images per class of `folder/data`.
  class var folderName: String { "synthetic" }
  class var imagesPerClass: Int? { nil }

  var folder = ""

  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  override func setUpWithError() throws {
    folder = try makeTemporaryFolder(Self.folderName)
    if let perClass = Self.imagesPerClass {
      try SyntheticData.writeFolder(folder + "/data", perClass: perClass)
    } else {
      try SyntheticData.writeFolder(folder + "/data")
    }
  }

  /// A checkpoint whose transformer always predicts `theta` (see SyntheticData).
  func writeConstantThetaCheckpoint(_ theta: [Float]) throws -> String {
    try SyntheticData.writeConstantThetaCheckpoint(theta, to: folder + "/constant.safetensors")
  }
}
