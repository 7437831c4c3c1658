import Foundation

/// The one PyTorch fixture set of the benchmark ST-CNN, read by the network and the trainer
/// tests: Tests/TorchFixtures, written by `scripts/make_torch_fixture.py make` from the model
/// in `scripts/stcnn.py` (the one Python definition of the ST-CNN).
public enum TorchFixtures {
  /// Tests/TorchFixtures.
  public static var directory: String { Golden.packageRoot + "/Tests/TorchFixtures" }
  /// The ST-CNN's plain state dict as PyTorch saves it (`safetensors.torch.save_file`).
  public static var stateDict: String { directory + "/torch_stcnn_state.safetensors" }
  /// `input` (2,1,42,42) and PyTorch's `logits`, `theta`, mean cross-entropy `loss` for
  /// `targets`, and `grad.<name>` of a few parameters.
  public static var inputOutput: String { directory + "/torch_stcnn_io.safetensors" }
  /// The scripts folder (`make_torch_fixture.py check ...`; `from stcnn import STCNN`).
  public static var scripts: String { Golden.packageRoot + "/scripts" }
}
