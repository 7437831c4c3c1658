import STNFiles
import STNImageIO
import STNTensor
import STNWarp

/// The one learned-transform step, used by the loader, `stn augment` and `stn export`: render
/// each prepared sample's predictor input, run ONE batched forward pass of the predictor, and
/// complete every sample's single resample with its predicted theta.
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
    let thetas: [AffineTransform]
    do {
      thetas = try predictor.predictThetas(input)
      guard thetas.count == samples.count else {
        throw FileError(path: predictor.checkpoint, reason: "predictor returned \(thetas.count) thetas for \(samples.count) images")
      }
    } catch {
      return results.map { result in result.flatMap { _ in .failure(FileError(path: predictor.checkpoint, reason: "learned_affine: \(error)")) } }
    }
    results.withUnsafeMutableBufferPointer { out in
      guard let slots = out.baseAddress else { return }
      parallelFor(chunks: samples.count, threads: threads) { k in
        guard case .success(let sample) = slots[k] else { return }
        slots[k] = Result { try processor.complete(sample, theta: thetas[k], predictor: predictor) }
      }
    }
    return results
  }
}

extension LearnedStep {
  /// Before any work: throws, at the `learned_affine` stage's line, when the stages before it
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
        throw PipelineError(file: processor.config.path, line: entry.line, reason: "the stages before learned_affine produce \(produced.map(String.init).joined(separator: "x")) (C x H x W) from \(dataset.sourcePath(at: index)), but the model of \(predictor.checkpoint) expects \(expected.map(String.init).joined(separator: "x")); add or fix a resize/pad stage before it")
      }
      return
    }
  }
}
