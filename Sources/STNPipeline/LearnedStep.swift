import STNFiles
import STNImageIO
import STNTensor
import STNWarp

/// What a `ThetaPredictor` predicts for a batch, by the family of its transform. Either way the
/// learned transform joins the sample's one resample: the stages before it, the learned map and
/// the stages after it compose into one output-to-source map, sampled once from the decoded
/// pixels (nothing is resampled twice or rounded in between).
public enum LearnedTransforms {
  /// One theta per image (PyTorch `affine_grid` convention), composed with the stages around
  /// the learned stage into the sample's one affine transform (or pixel map).
  case affine([AffineTransform])
  /// Projective and thin-plate-spline transforms: one map per image, output pixel -> input
  /// pixel of the predictor's input frame (align_corners false, what the transformer's own grid
  /// samples); nil when the prediction gives no usable map (non-finite numbers), which fails
  /// that sample alone.
  case maps([PixelMap?])
}

extension ThetaPredictor {
  /// Affine predictors need only `predictThetas`.
  public func predictTransforms(_ images: Tensor) throws -> LearnedTransforms {
    .affine(try predictThetas(images))
  }
}

/// The one learned-transform step, used by the loader, `stn augment` and `stn export`: render
/// each prepared sample's predictor input, run ONE batched forward pass of the predictor, and
/// complete every sample's single resample with its predicted theta or map (see
/// `LearnedTransforms`).
public enum LearnedStep {
  /// Completes `samples` (prepared by `processor`; failures pass through unchanged). Result k
  /// belongs to sample k; a failing forward pass fails every sample of the batch.
  ///
  /// NOTE: failed samples keep their (zero) rows in the predictor's batch, so the batch's shape,
  /// and hence every other sample's theta, does not depend on which files failed to decode.
  /// Independent of `threads` (only per-sample work is split).
  public static func complete(_ samples: [Result<PreparedSample, any Error>], processor: SampleProcessor, predictor: ThetaPredictor,
                              threads: Int) -> [Result<PreparedSample, any Error>] {
    if samples.isEmpty { return [] }
    let size = predictor.inputChannels * predictor.inputHeight * predictor.inputWidth
    var input = Tensor(shape: [samples.count, predictor.inputChannels, predictor.inputHeight, predictor.inputWidth])
    var results = samples
    // Each chunk writes only its own sample's slice of `input` and its own result.
    input.data.withUnsafeMutableBufferPointer { destination in
      results.withUnsafeMutableBufferPointer { out in
        guard let base = destination.baseAddress, let slots = out.baseAddress else { return }
        parallelFor(chunks: samples.count, threads: threads) { k in
          guard case .success(let sample) = slots[k] else { return }
          do {
            try processor.renderPredictorInput(sample, predictor: predictor, into: base + k * size)
          } catch {
            slots[k] = .failure(error)
          }
        }
      }
    }
    let prediction: LearnedTransforms
    do {
      prediction = try predictor.predictTransforms(input)
      switch prediction {
      case .affine(let thetas):
        guard thetas.count == samples.count else {
          throw FileError(path: predictor.checkpoint, reason: "predictor returned \(thetas.count) thetas for \(samples.count) images")
        }
      case .maps(let maps):
        guard maps.count == samples.count else {
          throw FileError(path: predictor.checkpoint, reason: "predictor returned \(maps.count) maps for \(samples.count) images")
        }
      }
    } catch {
      return results.map { result in result.flatMap { _ in .failure(FileError(path: predictor.checkpoint, reason: "learned_transform: \(error)")) } }
    }
    results.withUnsafeMutableBufferPointer { out in
      guard let slots = out.baseAddress else { return }
      parallelFor(chunks: samples.count, threads: threads) { k in
        guard case .success(let sample) = slots[k] else { return }
        switch prediction {
        case .affine(let thetas):
          slots[k] = Result { try processor.complete(sample, theta: thetas[k], predictor: predictor) }
        case .maps(let maps):
          slots[k] = Result { try processor.complete(sample, map: maps[k], predictor: predictor) }
        }
      }
    }
    return results
  }
}

extension LearnedStep {
  /// Before any work: throws, at the learned stage's line, when the stages before it
  /// do not produce the input the predictor's model expects (checked on the first readable of
  /// `candidates`). Nothing to check without a learned stage or a readable sample.
  public static func checkInput(processor: SampleProcessor, predictor: ThetaPredictor?, dataset: any ImageDataset, candidates: [Int]) throws {
    guard let predictor, let entry = processor.config.learnedStage else { return }
    for index in candidates.prefix(64) {
      guard let image = try? dataset.loadImage(at: index, options: processor.config.decodeOptions) else { continue }
      var random = RandomStream(seed: 0)
      let geometry = processor.prefix.plan(width: image.width, height: image.height, random: &random)
      let produced = [processor.config.channels, geometry.outputHeight, geometry.outputWidth]
      let expected = [predictor.inputChannels, predictor.inputHeight, predictor.inputWidth]
      guard produced == expected else {
        throw PipelineError(file: processor.config.path, line: entry.line, reason: "the stages before \(entry.name) produce \(produced.map(String.init).joined(separator: "x")) (C x H x W) from \(dataset.sourcePath(at: index)), but the model of \(predictor.checkpoint) expects \(expected.map(String.init).joined(separator: "x")); add or fix a resize/pad stage before it")
      }
      return
    }
  }
}
