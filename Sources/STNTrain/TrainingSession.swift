import Foundation
import STNFiles
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor

/// A problem setting up a run (bad flags, pipeline without a model, data mismatch).
public struct TrainSessionError: Error, CustomStringConvertible, Equatable, Sendable {
  public var reason: String
  public init(_ reason: String) { self.reason = reason }
  public var description: String { reason }
}

/// Where TensorBoard events go.
public enum TensorBoardChoice: Equatable, Sendable {
  /// `RUN/` (the default).
  case runFolder
  case directory(String)
  case off
}

/// Everything `stn train` can be told.
public struct TrainRequest: Sendable {
  public var pipeline: String
  public var epochs: Int?
  /// Run folder; default `runs/<pipeline name>`.
  public var out: String?
  public var threads = 2
  public var resume = false
  public var validationFraction: Double?
  public var folds: Int?
  public var seed: UInt64?
  public var tensorBoard: TensorBoardChoice = .runFolder
  /// Train on a seeded random subset of this many images (quick runs, `stn bench train`).
  public var limit: Int?
  /// A PyTorch (or swift-stn) state dict to start from instead of the random initialization.
  public var initFrom: String?
  /// Skip the per-epoch test pass even when the pipeline declares a test split.
  public var skipTest = false

  public init(pipeline: String) { self.pipeline = pipeline }
}

/// What a finished run produced.
public struct TrainOutcome {
  public var folder: String
  public var rows: [EpochMetrics]
  public var crossValidation: CrossValidation.Report?
  /// One-line JSON summary (the CLI's last output line).
  public var summary: JSONText
}

/// Sets up and runs `stn train`: pipeline file -> data, model, optimizer, trainer, outputs.
public enum TrainingSession {
  // MARK: - Pieces shared with eval and export

  /// Opens a pipeline's source.
  public static func openSource(_ source: SourceSpec) throws -> any ImageDataset {
    switch source {
    case .imageFolder(let path): return try ImageFolder(root: path)
    case .idx(let folder, let split): return try IDXDataset.locate(folder: folder, split: split)
    }
  }

  /// Opens `--data PATH`: a folder holding IDX files (the `split`), an IDX image file, or an
  /// image folder (root/<class>/<image>).
  public static func openData(_ path: String, split: String) throws -> any ImageDataset {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw TrainSessionError("\(path): no such file or folder")
    }
    if !isFolder.boolValue {
      let name = (path as NSString).lastPathComponent
      guard name.contains("images-idx3") else { throw TrainSessionError("\(path): expected a folder or an IDX image file (*-images-idx3-ubyte[.gz])") }
      let labels = (path as NSString).deletingLastPathComponent + "/" + name.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
      return try IDXDataset(images: path, labels: FileManager.default.fileExists(atPath: labels) ? labels : nil)
    }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    if names.contains(where: { $0.contains("-images-idx3-ubyte") }) {
      return try IDXDataset.locate(folder: path, split: split)
    }
    return try ImageFolder(root: path)
  }

  /// The `model:` section as a `ModelSpec`, decoded straight from the YAML node. A decoding
  /// error names the pipeline file, the line and column of the offending layer or key, and its
  /// path (e.g. `model[3].conv2d: unknown key kernal in conv2d (allowed: ...)`).
  public static func modelSpec(from node: ConfigNode) throws -> ModelSpec {
    try ConfigNodeDecoder().decode(ModelSpec.self, from: node) { "model" + describe($0) }
  }

  /// Per-sample output shape [C,H,W] of `config` on `dataset` (from its first readable image).
  public static func inputShape(config: PipelineConfig, dataset: any ImageDataset) throws -> [Int] {
    let processor = try SampleProcessor(config: config)
    var lastError: Error?
    for index in 0..<min(dataset.count, 64) {
      do {
        let image = try dataset.loadImage(at: index, options: DecodeOptions(channels: config.channels))
        let size = processor.outputSize(sourceWidth: image.width, sourceHeight: image.height)
        return [config.channels, size.height, size.width]
      } catch {
        lastError = error
      }
    }
    throw TrainSessionError("cannot read a sample to learn the input size: \(lastError.map { "\($0)" } ?? "the dataset is empty")")
  }

  /// The checkpoint's preprocessing record for a pipeline.
  public static func preprocessing(config: PipelineConfig, shape: [Int]) -> Preprocessing {
    let normalization = config.normalization
    return Preprocessing(
      channels: shape[0], height: shape[1], width: shape[2], mean: (normalization?.mean ?? [0]).map(Float.init),
      std: (normalization?.std ?? [1]).map(Float.init))
  }

  /// `labelMap[datasetLabel]` = index of that class name in `classNames`; unknown folders are
  /// an error listing them.
  public static func labelMap(dataset: [String], model classNames: [String], data: String) throws -> [Int]? {
    if dataset == classNames { return nil }
    let unknown = dataset.filter { !classNames.contains($0) }
    guard unknown.isEmpty else {
      throw TrainSessionError("\(data): class folders unknown to the checkpoint: \(unknown.joined(separator: ", ")) (its classes: \(classNames.joined(separator: ", ")))")
    }
    return dataset.map { name in classNames.firstIndex(of: name) ?? 0 }
  }

  // MARK: - Training

  /// Runs `stn train`. `output` receives stdout text (the model summary, notes); progress goes
  /// to `observer`.
  public static func run(_ request: TrainRequest, observer: TrainingObserver?, output: (String) -> Void) throws -> TrainOutcome {
    var config = try PipelineConfig.load(path: request.pipeline)
    if let seed = request.seed { config.seed = seed }
    guard let source = config.source else {
      throw PipelineError(file: config.path, line: 0, reason: "stn train needs a `source:` (image_folder or idx) in the pipeline")
    }
    guard let modelNode = config.model else {
      throw PipelineError(file: config.path, line: 0, reason: "stn train needs a `model:` section (a list of layers)")
    }
    guard !config.hasLearnedStage else {
      throw PipelineError(file: config.path, line: 0, reason: "a training pipeline cannot contain learned_affine")
    }
    var settings = try config.train.map(TrainSettings.init(node:)) ?? TrainSettings()
    if let epochs = request.epochs { settings.epochs = epochs }
    if let fraction = request.validationFraction { settings.validationFraction = fraction }
    try settings.validate(path: "command line")
    let batchSize = settings.batchSize ?? config.batching.size
    let spec = try modelSpec(from: modelNode)

    // Data.
    var dataset = try openSource(source)
    let classNames = dataset.classes
    if let limit = request.limit {
      guard limit >= 1 else { throw TrainSessionError("--limit must be >= 1") }
      if limit < dataset.count {
        let chosen = Array(DataSplit.permutation(count: dataset.count, seed: config.seed &+ 0x11A1).prefix(limit)).sorted()
        dataset = SubsetDataset(base: dataset, indices: chosen, labelMap: nil, classes: classNames)
      }
    }
    let shape = try inputShape(config: config, dataset: dataset)
    var test: PipelineBatches?
    if let testName = settings.test, !request.skipTest, request.folds == nil {
      let testData: any ImageDataset
      if case .idx(let folder, _) = source, ["test", "t10k", "train"].contains(testName.lowercased()) {
        testData = try IDXDataset.locate(folder: folder, split: testName)
      } else {
        let folder = testName.hasPrefix("/") ? testName : ((config.path as NSString).deletingLastPathComponent + "/" + testName)
        testData = try ImageFolder(root: folder)
      }
      let map = try labelMap(dataset: testData.classes, model: classNames, data: testName)
      test = PipelineBatches(config: config, dataset: testData, threads: request.threads, classNames: classNames, labelMap: map)
    }
    let provider = PipelineBatches(config: config, dataset: dataset, threads: request.threads)
    let yaml = (try? String(contentsOfFile: request.pipeline, encoding: .utf8)) ?? ""
    let folder = request.out ?? "runs/" + (config.name ?? ((request.pipeline as NSString).lastPathComponent as NSString).deletingPathExtension)

    if !request.resume, FileManager.default.fileExists(atPath: folder + "/last.safetensors") || FileManager.default.fileExists(atPath: folder + "/folds.json") {
      throw TrainSessionError("\(folder) already holds a run: pass --resume to continue it, or --out NEW_FOLDER")
    }

    /// A fresh model + optimizer (+ optional imported weights) for one run or fold.
    func makeClassifier() throws -> NetworkClassifier {
      let model = try Model(spec: spec, inputShape: shape, classCount: classNames.count, seed: config.seed)
      if let initFrom = request.initFrom {
        try Checkpoint.loadWeights(into: model, from: try SafeTensorsFile(contentsOf: initFrom), path: initFrom)
      }
      let optimizer = try makeOptimizer(settings.optimizerConfig, parameters: model.parameters)
      return NetworkClassifier(
        model: model, optimizer: optimizer, classNames: classNames, preprocessing: preprocessing(config: config, shape: shape),
        threads: request.threads, seed: config.seed)
    }
    func makeTrainer(data: TrainingData, folder: String) throws -> Trainer {
      let classifier = try makeClassifier()
      let trainer = Trainer(model: classifier, data: data, settings: settings, folder: folder, batchSize: batchSize)
      trainer.observer = observer
      trainer.checkpointMetadata = ["pipeline": yaml, "pipeline_path": request.pipeline]
      let title = config.name ?? "training"
      trainer.afterEpoch = { rows in try TrainingCurves.write(rows, title: title, to: folder + "/curves.png") }
      switch request.tensorBoard {
      case .off: break
      case .runFolder: trainer.tensorBoard = try tensorBoard(folder, config)
      case .directory(let path): trainer.tensorBoard = try tensorBoard(path, config)
      }
      return trainer
    }

    let first = try makeClassifier()
    output(first.summary)
    output("data: \(dataset.count) images, \(classNames.count) classes, input \(shape), batch \(batchSize); "
      + "\(settings.optimizer.rawValue) lr \(settings.learningRate), \(settings.epochs) epochs; run folder \(folder)")

    if let k = request.folds {
      let report = try CrossValidation.run(
        folds: k, provider: provider, seed: config.seed, folder: folder, resume: request.resume,
        makeTrainer: { _, data, foldFolder in try makeTrainer(data: data, folder: foldFolder) }, note: { observer?.note($0) })
      return TrainOutcome(folder: folder, rows: [], crossValidation: report, summary: report.json)
    }

    let split = DataSplit.validation(count: dataset.count, fraction: settings.validationFraction, seed: config.seed)
    output("split: \(split.train.count) training, \(split.validation.count) validation"
      + (test.map { ", \($0.sampleCount) test" } ?? "") + " images")
    let data = TrainingData(train: provider, trainIndices: split.train, validationIndices: split.validation, test: test)
    let trainer = try makeTrainer(data: data, folder: folder)
    let started = Date()
    let rows = try trainer.run(resume: request.resume)
    try trainer.tensorBoard?.close()
    if !rows.isEmpty {
      try TrainingCurves.write(rows, title: config.name ?? "training", to: folder + "/curves.png")
    }
    if !provider.skipped.isEmpty {
      observer?.note("skipped \(provider.skipped.count) unreadable samples, e.g. \(provider.skipped[0])")
    }
    let last = rows.last
    var summary: [(String, JSONText)] = [("run", .string(folder)), ("epochs", .int(last?.epoch ?? 0))]
    if let last {
      summary.append(("train_loss", .number(last.trainLoss)))
      summary.append(("train_acc", .number(last.trainAccuracy)))
      if let value = last.validationAccuracy { summary.append(("val_acc", .number(value))) }
      let best = rows.compactMap(\.validationAccuracy).max()
      if let best { summary.append(("best_val_acc", .number(best))) }
      if let value = last.testAccuracy { summary.append(("test_acc", .number(value))) }
      summary.append(("seconds_per_epoch", .number(rows.map(\.seconds).reduce(0, +) / Double(rows.count))))
    }
    summary.append(("seconds", .number(Date().timeIntervalSince(started))))
    return TrainOutcome(folder: folder, rows: rows, crossValidation: nil, summary: .object(summary))
  }

  static func tensorBoard(_ directory: String, _ config: PipelineConfig) throws -> TrainingTensorBoard {
    let normalization = config.normalization
    return try TrainingTensorBoard(directory: directory, mean: normalization?.mean ?? [0], std: normalization?.std ?? [1])
  }
}
