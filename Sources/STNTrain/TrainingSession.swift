import Foundation
import STNDistributed
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
  /// Layers whose outputs go to TensorBoard every epoch (`--tensorboard-layers`).
  public var tensorBoardLayers: LayerSelection = .automatic
  /// Train on a seeded random subset of this many images (quick runs, `stn bench train`).
  public var limit: Int?
  /// A PyTorch (or swift-stn) state dict to start from instead of the random initialization.
  public var initFrom: String?
  /// Training data instead of the pipeline's `source:` (`--input`): a folder of IDX files (its
  /// train split; the `test:` split comes from the same folder) or an image folder.
  public var input: String?
  /// Skip the per-epoch test pass even when the pipeline declares a test split.
  public var skipTest = false
  /// Start a new run in a folder that already holds one (or other files).
  public var overwrite = false
  /// Called before every training step with its number (a test hook: `stn train` sets it from
  /// STN_TEST_EXIT_AT_STEP to make one rank die mid-run).
  public var beforeStep: (@Sendable (_ step: Int) -> Void)?

  public init(pipeline: String) { self.pipeline = pipeline }
}

/// What a finished run produced.
public struct TrainOutcome {
  public var folder: String
  public var rows: [EpochMetrics]
  public var crossValidation: CrossValidation.Report?
  /// One-line JSON summary (the CLI's last output line).
  public var summary: JSONText
  /// Allreduce time and consistency events of a data-parallel run (zeros on one process).
  public var communication = CommunicationReport()
}

/// Sets up and runs `stn train`: pipeline file -> data, model, optimizer, trainer, outputs.
public enum TrainingSession {
  // MARK: - Pieces shared with eval and export

  /// Opens `--input PATH` (eval, export): a folder holding IDX files (the `split`; nil: "test"),
  /// an IDX image file, or an image folder (`ImageDatasets.open`; a given `split` must apply).
  public static func openData(_ path: String, split: String?) throws -> any ImageDataset {
    try ImageDatasets.open(path, split: split ?? "test", splitGiven: split != nil)
  }

  /// The `model:` section as a `ModelSpec`, decoded straight from the YAML node. A decoding
  /// error names the pipeline file, the line and column of the offending layer or key, and its
  /// path (e.g. `model[3].conv2d: unknown key kernal in conv2d (allowed: ...)`).
  public static func modelSpec(from node: ConfigNode) throws -> ModelSpec {
    try ConfigNodeDecoder().decode(ModelSpec.self, from: node) { "model" + describe($0) }
  }

  /// Per-sample output shape [C,H,W] of `config` on `dataset` (the loader's probe).
  public static func inputShape(config: PipelineConfig, dataset: any ImageDataset) throws -> [Int] {
    try SampleProcessor(config: config).sampleShape(dataset: dataset, candidates: Array(0..<min(dataset.count, 64)))
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
  /// A folder matches a class by its name or by the folder spelling of it
  /// (`ImageFolder.folderName(forClass:)`: "T-shirt/top" is written to "T-shirt_top").
  public static func labelMap(dataset: [String], model classNames: [String], data: String) throws -> [Int]? {
    if dataset == classNames { return nil }
    func index(_ name: String) -> Int? {
      classNames.firstIndex(of: name) ?? classNames.firstIndex { ImageFolder.folderName(forClass: $0) == name }
    }
    let unknown = dataset.filter { index($0) == nil }
    guard unknown.isEmpty else {
      throw FileError(path: data, reason: "class folders unknown to the checkpoint: \(unknown.joined(separator: ", ")) (its classes: \(classNames.joined(separator: ", ")))")
    }
    return dataset.map { index($0) ?? 0 }
  }

  // MARK: - Training

  /// Runs `stn train`. `output` receives stdout text (the model summary, notes); progress goes
  /// to `observer`.
  ///
  /// On a `communicator` of several ranks (`mpirun -np N stn train`), every rank calls this
  /// with the same request: each reads the pipeline and opens the data; rank 0 alone checks and
  /// writes the run folder, reads `--init-from` and `--resume`'s checkpoint, and calls `output`
  /// (pass the observer on rank 0 only); the `Trainer` does the rest (see `Trainer.run`). A
  /// failure on any rank is agreed on (`CollectiveFailure`), so no rank is left waiting.
  /// `--folds` is refused (`TrainSessionError`).
  public static func run(
    _ request: TrainRequest, observer: TrainingObserver?, communicator: any Communicator = SingleProcessCommunicator(),
    output: (String) -> Void
  ) throws -> TrainOutcome {
    let output = communicator.isRoot ? output : { _ in }
    let prepared = try communicator.agreeing { try prepare(request, communicator: communicator, observer: observer, output: output) }
    // The run folder stays locked (rank 0) until the run returns.
    return try withExtendedLifetime(prepared.lock) {
      try train(prepared, request: request, communicator: communicator, observer: observer, output: output)
    }
  }

  /// What `prepare` sets up for `train`: the data, the settings and the classifier factory.
  struct PreparedRun {
    var config: PipelineConfig
    var settings: TrainSettings
    var folder: String
    var classNames: [String]
    var dataset: any ImageDataset
    var provider: PipelineBatches
    var test: PipelineBatches?
    var makeTrainer: (_ data: TrainingData, _ folder: String) throws -> Trainer
    /// Rank 0's hold on the run folder (nil on the other ranks).
    var lock: FolderLock?
  }

  /// Everything before the training itself, on every rank (one agreement for all of it).
  private static func prepare(
    _ request: TrainRequest, communicator: any Communicator, observer: TrainingObserver?, output: (String) -> Void
  ) throws -> PreparedRun {
    // Refused on rank 0 alone, so that the error is one line (the others learn of it).
    if communicator.isDistributed, communicator.isRoot, request.folds != nil {
      throw TrainSessionError("--folds is not supported under mpirun/srun: run the cross-validation as one process (stn train --folds K without a launcher)")
    }
    var config = try PipelineConfig.load(path: request.pipeline)
    if let seed = request.seed { config.seed = seed }
    if let input = request.input { config.source = try SourceSpec(input: input) }
    guard let source = config.source else {
      throw PipelineError(file: config.path, line: 0, reason: "stn train needs a `source:` (image_folder or idx) in the pipeline, or --input")
    }
    guard let modelNode = config.model else {
      throw PipelineError(file: config.path, line: 0, reason: "stn train needs a `model:` section (a list of layers)")
    }
    guard !config.hasLearnedStage else {
      throw PipelineError(file: config.path, line: 0, reason: "a training pipeline cannot contain a learned stage (learned_transform/learned_affine)")
    }
    var settings = try config.train.map(TrainSettings.init(node:)) ?? TrainSettings()
    if let epochs = request.epochs { settings.epochs = epochs }
    if let fraction = request.validationFraction { settings.validationFraction = fraction }
    try settings.validate(path: "command line")
    let batchSize = settings.batchSize ?? config.batching.size
    let spec = try modelSpec(from: modelNode)
    let folder = request.out ?? "runs/" + (config.name ?? ((request.pipeline as NSString).lastPathComponent as NSString).deletingPathExtension)
    // Rank 0 writes the run folder: it alone checks it (the others need not see it).
    let lock = communicator.isRoot ? try checkRunFolder(folder, request: request, config: config, settings: settings) : nil

    // Data.
    var dataset = try config.openSource()
    let classNames = dataset.classes
    if let limit = request.limit {
      guard limit >= 1 else { throw TrainSessionError("--limit must be >= 1") }
      if limit < dataset.count {
        let chosen = Array(DataSplit.permutation(count: dataset.count, seed: config.seed &+ 0x11A1).prefix(limit)).sorted()
        dataset = DatasetSubset(base: dataset, indices: chosen)
      }
    }
    let shape = try inputShape(config: config, dataset: dataset)
    var test: PipelineBatches?
    if let testName = settings.test, !request.skipTest, request.folds == nil {
      let testData: any ImageDataset
      if case .idx(let folder, _) = source, isSplitName(testName) {
        testData = try config.openInput(folder, split: testName)
      } else {
        testData = try config.openInput(testFolder(testName, config: config))
      }
      let map = try labelMap(dataset: testData.classes, model: classNames, data: testName)
      test = PipelineBatches(config: config, dataset: testData, threads: request.threads, classNames: classNames, labelMap: map)
    }
    let provider = PipelineBatches(config: config, dataset: dataset, threads: request.threads)
    let yaml = (try? String(contentsOfFile: request.pipeline, encoding: .utf8)) ?? ""

    /// A fresh model + optimizer (+ optional imported weights) for one run or fold.
    /// (Under mpirun only rank 0 reads the weights; the trainer sends its parameters to all.)
    func makeClassifier() throws -> NetworkClassifier {
      let model = try Model(spec: spec, inputShape: shape, classCount: classNames.count, seed: config.seed)
      if let initFrom = request.initFrom, communicator.isRoot {
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
      trainer.communicator = communicator
      trainer.beforeStep = request.beforeStep
      trainer.checkpointMetadata = ["pipeline": yaml, "pipeline_path": request.pipeline]
      let title = config.name ?? "training"
      trainer.afterEpoch = { rows in try TrainingCurves.write(rows, title: title, to: folder + "/curves.png") }
      switch request.tensorBoard {
      case _ where !communicator.isRoot, .off: break
      case .runFolder: trainer.tensorBoard = try tensorBoard(folder, config)
      case .directory(let path): trainer.tensorBoard = try tensorBoard(path, config)
      }
      if let board = trainer.tensorBoard {
        board.layers = try LayerImageLog.forRun(request.tensorBoardLayers, model: classifier.model, data: data, threads: request.threads)
      }
      return trainer
    }

    let first = try makeClassifier()
    if request.tensorBoard != .off { try LayerImageLog.check(request.tensorBoardLayers, model: first.model, note: { observer?.note($0) }) }
    output(first.summary)
    output("classes: " + classNames.joined(separator: ", "))
    output("data: \(dataset.count) images, \(classNames.count) classes, input \(shape), batch \(batchSize); "
      + "\(settings.optimizer.rawValue) lr \(settings.learningRate), \(settings.epochs) epochs; run folder \(folder)"
      + (communicator.isDistributed ? "; \(communicator.size) ranks, \(partSizes(batchSize, ranks: communicator.size)) images per rank per step" : ""))
    return PreparedRun(
      config: config, settings: settings, folder: folder, classNames: classNames, dataset: dataset, provider: provider, test: test,
      makeTrainer: makeTrainer, lock: lock)
  }

  /// "32" or "21-22": the sizes of the ranks' parts of one full global batch.
  static func partSizes(_ batchSize: Int, ranks: Int) -> String {
    let sizes = (0..<ranks).map { BatchPart(rank: $0, count: ranks).range(inBatchOf: batchSize).count }
    let (low, high) = (sizes.min() ?? 0, sizes.max() ?? 0)
    return low == high ? "\(low)" : "\(low)-\(high)"
  }

  /// The training itself: folds, or one run with its validation split and the summary.
  private static func train(
    _ prepared: PreparedRun, request: TrainRequest, communicator: any Communicator, observer: TrainingObserver?,
    output: (String) -> Void
  ) throws -> TrainOutcome {
    let (config, settings, folder, dataset, provider, test) =
      (prepared.config, prepared.settings, prepared.folder, prepared.dataset, prepared.provider, prepared.test)
    if let k = request.folds {
      let report = try CrossValidation.run(
        folds: k, provider: provider, seed: config.seed, folder: folder, resume: request.resume,
        makeTrainer: { _, data, foldFolder in try prepared.makeTrainer(data, foldFolder) }, note: { observer?.note($0) })
      // The folds run on one process (refused under mpirun): "ranks":1, as every summary says.
      var summary = report.json
      if case .object(let pairs) = summary { summary = .object(pairs + [("ranks", .int(communicator.size))]) }
      return TrainOutcome(folder: folder, rows: [], crossValidation: report, summary: summary)
    }

    let split = DataSplit.validation(count: dataset.count, fraction: settings.validationFraction, seed: config.seed)
    output("split: \(split.train.count) training, \(split.validation.count) validation"
      + (test.map { ", \($0.sampleCount) test" } ?? "") + " images")
    let data = TrainingData(train: provider, trainIndices: split.train, validationIndices: split.validation, test: test)
    let trainer = try communicator.agreeing { try prepared.makeTrainer(data, folder) }
    let started = Date()
    let rows = try trainer.run(resume: request.resume)
    try communicator.agreeing {
      try trainer.tensorBoard?.close()
      if !rows.isEmpty && communicator.isRoot {
        try TrainingCurves.write(rows, title: config.name ?? "training", to: folder + "/curves.png")
      }
    }
    // Each rank read only its parts: rank 0 reports how many were unreadable on all.
    let skipped = try communicator.allreduce(Int64(provider.skipped.count), .sum)
    if skipped > 0 {
      observer?.note("skipped \(skipped) unreadable samples, e.g. \(provider.skipped.first.map { "\($0)" } ?? "(on another rank)")")
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
    summary.append(("ranks", .int(communicator.size)))
    if communicator.isDistributed {
      summary.append(("allreduce_ms_per_step", .number(trainer.communication.allreduceMillisecondsPerStep)))
      summary.append(("resynchronizations", .int(trainer.communication.resynchronizations)))
    }
    var outcome = TrainOutcome(folder: folder, rows: rows, crossValidation: nil, summary: .object(summary))
    outcome.communication = trainer.communication
    return outcome
  }

  /// The run folder, before any work: it overlaps no input (data, test data, pipeline,
  /// weights to start from), can be written, and holds a run only when resuming (or with
  /// `overwrite`), and no other run writes there (the returned lock keeps it so).
  static func checkRunFolder(_ folder: String, request: TrainRequest, config: PipelineConfig, settings: TrainSettings) throws -> FolderLock {
    var inputs = [request.pipeline, config.sourceFolder, request.initFrom].compactMap { $0 }
    if let test = settings.test, !isSplitName(test) {
      inputs.append(testFolder(test, config: config))
    }
    try OutputLocation.refuseOverlap(output: folder, inputs: inputs, flag: "the run folder (--output)")
    let existing = try OutputLocation.prepareFolder(folder, flag: "run")
    let lock = try FolderLock.acquire(folder, flag: "run")
    let holdsRun = FileManager.default.fileExists(atPath: folder + "/last.safetensors") || FileManager.default.fileExists(atPath: folder + "/folds.json")
    if request.resume {
      guard holdsRun || request.folds != nil else { throw FileError(path: folder, reason: "nothing to resume (no last.safetensors); drop --resume to start a run") }
    } else if !existing.isEmpty && !request.overwrite {
      throw TrainSessionError(holdsRun
        ? "\(folder) already holds a run: pass --resume to continue it, --overwrite to start again in it, or --output NEW_FOLDER"
        : "\(folder) is not empty (\(existing.count) entries, e.g. \(existing[0])): pass --overwrite to train into it anyway, or --output NEW_FOLDER")
    }
    return lock
  }

  /// A `test:` value that names an IDX split (`test`, `t10k`, `train`) rather than a folder.
  static func isSplitName(_ test: String) -> Bool { ["test", "t10k", "train"].contains(test.lowercased()) }

  /// The folder a `test:` value names: as given when absolute, else beside the pipeline file.
  static func testFolder(_ test: String, config: PipelineConfig) -> String {
    test.hasPrefix("/") ? test : OutputLocation.joined(OutputLocation.parentFolder(config.path), test)
  }

  static func tensorBoard(_ directory: String, _ config: PipelineConfig) throws -> TrainingTensorBoard {
    let normalization = config.normalization
    return try TrainingTensorBoard(directory: directory, mean: normalization?.mean ?? [0], std: normalization?.std ?? [1])
  }
}
