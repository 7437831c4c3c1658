import STNFiles
import STNImageIO
import STNTensor
import STNWarp

/// What a `ThetaPredictor` predicts for a batch, by the family of its transform.
public enum LearnedTransforms {
  /// One theta per image (PyTorch `affine_grid` convention), composed with the stages around
  /// the learned stage into the sample's one resample.
  case affine([AffineTransform])
  /// Projective and thin-plate-spline maps are not affine, so they cannot join the one
  /// resample: the predictor samples the batch itself (with its network's own sampler) and
  /// returns the result as pixels in 0...255, (N,C,H,W), the input's shape. The stages after
  /// the learned stage then resample these pixels (rounded to 8 bits).
  case resampled(Tensor)
}

extension ThetaPredictor {
  /// Affine predictors need only `predictThetas`.
  public func predictTransforms(_ images: Tensor) throws -> LearnedTransforms {
    .affine(try predictThetas(images))
  }
}

/// The one learned-transform step, used by the loader, `stn augment` and `stn export`: render
/// each prepared sample's predictor input, run ONE batched forward pass of the predictor, and
/// complete every sample's single resample with its predicted theta (or, for projective and
/// TPS predictors, with the pixels the predictor resampled; see `LearnedTransforms`).
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
      case .resampled(let pixels):
        guard pixels.shape == input.shape else {
          throw FileError(path: predictor.checkpoint, reason: "predictor returned images of shape \(pixels.shape) for \(input.shape)")
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
        case .resampled(let pixels):
          let resampled = replacingImage(of: sample, with: pixels, at: k, predictor: predictor)
          slots[k] = Result { try processor.complete(resampled, theta: .identity, predictor: predictor) }
        }
      }
    }
    return results
  }

  /// `sample` with its image replaced by image `k` of `pixels` (N,C,H,W, 0...255; the
  /// predictor's input size), rounded to 8 bits, and nothing left to do before the learned stage.
  /// NOTE: a projective map's points at infinity sample nothing (0), and NaN cannot reach
  /// the pixels: it is mapped to 0 as well.
  static func replacingImage(of sample: PreparedSample, with pixels: Tensor, at k: Int, predictor: ThetaPredictor) -> PreparedSample {
    let channels = predictor.inputChannels, width = predictor.inputWidth, height = predictor.inputHeight
    let plane = width * height
    var image = Image(width: width, height: height, channels: channels)
    pixels.data.withUnsafeBufferPointer { source in
      image.pixels.withUnsafeMutableBufferPointer { destination in
        for c in 0..<channels {
          for i in 0..<plane {
            let value = source[(k * channels + c) * plane + i]
            destination[i * channels + c] = value.isNaN ? 0 : UInt8(Swift.min(255, Swift.max(0, value.rounded())))
          }
        }
      }
    }
    var done = sample
    done.image = image
    done.pending?.prefix = .identity
    done.pending?.prefixMap = nil
    return done
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
