import STNPipeline
import XCTest
@testable import STNTrain

final class TrainSettingsTests: XCTestCase {
  func parse(_ train: String) throws -> TrainSettings {
    let config = try PipelineConfig.parse(yaml: "train:\n" + train, path: "p.yaml")
    return try TrainSettings(node: try XCTUnwrap(config.train))
  }

  func testParsesEveryKey() throws {
    let settings = try parse("""
        optimizer: sgd
        lr: 0.1
        momentum: 0.9
        nesterov: true
        weight_decay: 0.0005
        epochs: 4
        batch_size: 32
        schedule: step
        step_size: 2
        gamma: 0.5
        val_fraction: 0.2
        test: t10k

      """)
    XCTAssertEqual(settings.optimizer, .sgd)
    XCTAssertEqual(settings.optimizerConfig.kind, "sgd")
    XCTAssertEqual(settings.optimizerConfig.momentum, 0.9)
    XCTAssertTrue(settings.optimizerConfig.nesterov)
    XCTAssertEqual(settings.batchSize, 32)
    XCTAssertEqual(settings.test, "t10k")
    // StepLR(step_size 2, gamma 0.5) stepped per epoch: epochs 1-2 at 0.1, 3-4 at 0.05.
    XCTAssertEqual((1...4).map { settings.learningRate(epoch: $0) }, [0.1, 0.1, 0.05, 0.05].map { Double(Float($0)) })
  }

  func testCosineScheduleEndsNearMinimum() throws {
    let settings = try parse("  lr: 0.01\n  epochs: 10\n  schedule: cosine\n  min_lr: 0.001\n")
    XCTAssertEqual(settings.learningRate(epoch: 1), 0.01, accuracy: 1e-9)
    XCTAssertEqual(settings.learningRate(epoch: 6), 0.0055, accuracy: 1e-6, "halfway: the mean of lr and min_lr")
  }

  func testErrorsNameTheLine() throws {
    XCTAssertThrowsError(try parse("  lr: 0.1\n  optimiser: adam\n")) { error in
      XCTAssertTrue("\(error)".hasPrefix("p.yaml:3:"), "\(error)")
      XCTAssertTrue("\(error)".contains("optimiser"))
    }
    XCTAssertThrowsError(try parse("  optimizer: rmsprop\n")) { error in
      XCTAssertTrue("\(error)".contains("rmsprop"), "\(error)")
    }
    XCTAssertThrowsError(try parse("  val_fraction: 1.5\n")) { error in
      XCTAssertTrue("\(error)".contains("val_fraction"), "\(error)")
    }
    XCTAssertThrowsError(try parse("  epochs: 0\n"))
    XCTAssertThrowsError(try parse("  nesterov: true\n"), "nesterov needs momentum")
  }

  func testDefaultsAreMODELmdRecipe() {
    let settings = TrainSettings()
    XCTAssertEqual(settings.optimizer, .adam)
    XCTAssertEqual(settings.learningRate, 1e-3)
    XCTAssertEqual(settings.beta1, 0.9)
    XCTAssertEqual(settings.beta2, 0.999)
    XCTAssertEqual(settings.epsilon, 1e-8)
    XCTAssertEqual(settings.epochs, 10)
    XCTAssertEqual(settings.validationFraction, 0.1)
  }
}
