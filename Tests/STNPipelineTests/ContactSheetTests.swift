import Foundation
import STNDrawing
import STNImageIO
import STNTestSupport
import XCTest

@testable import STNPipeline

/// Issue 14: contact sheets show originals in cells of the outputs' size, the file name under
/// each original, and the parameters drawn for each output under it.
final class ContactSheetTests: XCTestCase {
  let samples = Golden.packageRoot + "/samples/images"

  func testEntriesCarryFileNamesAndTheDrawnParameters() throws {
    let config = try PipelineConfig.parse(yaml: """
      seed: 3
      stages:
        - random_affine: {degrees: 30, translate: [0.1, 0.1], scale: [0.8, 1.2], hflip: 1}
        - resize: {size: [64, 64]}
      """)
    let dataset = try ImageFolder(root: samples)
    var job = ExportJob(config: config, dataset: dataset, count: 6)
    job.epoch = 2
    let (entries, skipped) = try job.run()
    XCTAssertEqual(skipped, [])
    XCTAssertEqual(entries.map(\.name), job.indices.map { (dataset.relativePath(at: $0) as NSString).lastPathComponent })
    let processor = try SampleProcessor(config: config)
    for (entry, index) in zip(entries, job.indices) {
      // The lines are what sample `index` drew in epoch 2 (the draw behind its pixels).
      let geometry = processor.plan(sourceWidth: entry.original.width, sourceHeight: entry.original.height, epoch: 2, index: index)
      let draw = try XCTUnwrap(geometry.steps.compactMap(\.draw).first)
      XCTAssertEqual(entry.parameters, [
        String(format: "rot %.1f sc %.2f", draw.parameters.angle, draw.parameters.scale),
        String(format: "tx %+.1f ty %+.1f", draw.parameters.translateX, draw.parameters.translateY),
        "hflip",
      ])
      XCTAssertTrue((-30...30).contains(draw.parameters.angle))
    }
  }

  /// Perspective and elastic steps get one line each: "perspective", and the elastic spline's
  /// largest control-point move; the sheet renders.
  func testNonAffineStepsAreNamedOnTheSheet() throws {
    let config = try PipelineConfig.parse(yaml: """
      seed: 1
      stages:
        - random_perspective: {distortion_scale: 0.5, p: 1}
        - random_elastic: {sigma: 2, grid: 3}
        - resize: {size: [32, 32]}
      """)
    let processor = try SampleProcessor(config: config)
    let geometry = processor.plan(sourceWidth: 40, sourceHeight: 30, epoch: 0, index: 0)
    guard case .thinPlateSpline(let spline)? = geometry.steps[1].map else { return XCTFail("no spline step") }
    let largest = zip(spline.controlPoints, spline.targets).map { (($1 - $0) * ($1 - $0)).sum().squareRoot() }.max() ?? 0
    XCTAssertEqual(ContactSheetEntry.parameterLines(geometry), ["perspective", String(format: "elastic max %.1f px", largest)])
    let (entries, skipped) = try ExportJob(config: config, dataset: try ImageFolder(root: samples), count: 2).run()
    XCTAssertEqual(skipped, [])
    XCTAssertTrue(entries.allSatisfy { $0.parameters.first == "perspective" })
    XCTAssertGreaterThan(ContactSheet.render(entries).width, 0)
  }

  /// Originals fill a cell of the transformed images' size: a photo smaller than the cell is
  /// enlarged to fit it, a 28x28 item by a whole factor (crisp pixels).
  func testOriginalsAreScaledIntoTheOutputCell() {
    let photo = TestImages.smooth(width: 80, height: 60, channels: 3)
    let digit = TestImages.smooth(width: 28, height: 28, channels: 1)
    let photoFit = ContactSheet.fit(photo, into: (224, 224))
    XCTAssertEqual([photoFit.width, photoFit.height], [224, 168])
    let digitFit = ContactSheet.fit(digit, into: (126, 126))
    XCTAssertEqual([digitFit.width, digitFit.height], [112, 112])
    XCTAssertEqual(digitFit.pixels[0], digit.pixels[0])
    let large = ContactSheet.fit(TestImages.smooth(width: 500, height: 375, channels: 3), into: (224, 224))
    XCTAssertEqual([large.width, large.height], [224, 168])
    // Layout: the text rows grow with the longest parameter list.
    let entry = ContactSheetEntry(original: photo, transformed: TestImages.smooth(width: 224, height: 224, channels: 3), caption: "#0 a",
                                  name: "x.png", parameters: ["rot 1.0 sc 1.00", "tx +0.0 ty +0.0", "hflip"])
    let sheet = ContactSheet.render([entry])
    XCTAssertEqual(sheet.width, ContactSheet.gap * 2 + 2 * 224 + ContactSheet.gap / 2)
    XCTAssertEqual(sheet.height, ContactSheet.gap * 2 + 224 + 3 + 3 * BitmapFont.lineHeight)
  }
}
