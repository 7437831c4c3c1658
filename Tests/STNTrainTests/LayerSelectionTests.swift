import STNNetwork
import XCTest
@testable import STNTrain

final class LayerSelectionTests: XCTestCase {
  func testParsesAllNoneAndLists() throws {
    XCTAssertEqual(try LayerSelection(parsing: "all"), .all)
    XCTAssertEqual(try LayerSelection(parsing: " NONE "), .none)
    XCTAssertEqual(try LayerSelection(parsing: "3, 00.02,conv2d,input"),
                   .list([.position([3]), .position([0, 2]), .kind("conv2d"), .kind("input")]))
  }

  func testBadValuesAreOneClearError() {
    for (text, expected) in [
      ("", "empty item"), ("3,,4", "empty item"), ("1.2.3", "'1.2.3' is not a layer index"), ("0.x", "'0.x' is not a layer index"),
      ("-1", "'-1' is neither"), ("conv 2d", "'conv 2d' is neither"),
    ] {
      XCTAssertThrowsError(try LayerSelection(parsing: text), text) { error in
        let message = "\(error)"
        XCTAssertTrue(message.hasPrefix("--tensorboard-layers: ") && message.contains(expected), message)
        XCTAssertFalse(message.contains("\n"), message)
      }
    }
  }

  func testSelectsByIndexAndKindAndRefusesWhatTheModelLacks() throws {
    let model = try Model(spec: .benchmarkSTCNN, inputShape: [1, 42, 42], classCount: 10)
    XCTAssertEqual(try LayerSelection.all.entries(of: model).count, 25)
    XCTAssertEqual(try LayerSelection.none.entries(of: model), [])
    XCTAssertEqual(try LayerSelection.automatic.entries(of: model).count, 25, "14 model: entries <= 20: all")
    let picked = try LayerSelection(parsing: "input,0.3,conv2d,13").entries(of: model)
    XCTAssertEqual(picked.map(\.label), ["input", "00.00-conv2d", "00.03-conv2d", "01-conv2d", "04-conv2d", "07-conv2d", "13-linear"])
    XCTAssertThrowsError(try LayerSelection(parsing: "14").entries(of: model)) { error in
      XCTAssertTrue("\(error)".contains("no layer 14 in this model (its indices: 00 00.00"), "\(error)")
    }
    XCTAssertThrowsError(try LayerSelection(parsing: "0.10").entries(of: model))
    XCTAssertThrowsError(try LayerSelection(parsing: "batch_norm2d").entries(of: model)) { error in
      XCTAssertTrue("\(error)".contains("no layer of kind 'batch_norm2d' (its kinds: input, spatial_transformer, conv2d"), "\(error)")
    }
  }

  func testDefaultLeavesBigModelsOut() throws {
    let spec = ModelSpec([.flatten] + [LayerSpec](repeating: .relu, count: LayerSelection.automaticLimit) + [.linear(LinearSpec(out: nil))])
    let model = try Model(spec: spec, inputShape: [1, 2, 2], classCount: 2)
    XCTAssertEqual(try LayerSelection.automatic.entries(of: model), [])
    var notes: [String] = []
    try LayerImageLog.check(.automatic, model: model, note: { notes.append($0) })
    XCTAssertEqual(notes.count, 1)
    XCTAssertTrue(notes[0].contains("--tensorboard-layers all"), notes[0])
  }
}
