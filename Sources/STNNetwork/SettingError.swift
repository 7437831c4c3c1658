/// A bad setting that is not read from a file of its own: the model (`model`), one of its layers
/// (`model layer 3 (conv2d)`, `model layer 0 (spatial_transformer) > localization layer 9 (linear)`),
/// the optimizer (`optimizer`). Names the setting and the reason in one line.
///
/// A setting read from a file is reported against that file instead: `FileError` (path, reason)
/// or, for the pipeline's YAML with its line and column, `PipelineError`.
public struct SettingError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What is set wrongly, as the user would name it.
  public var setting: String
  /// What is wrong, in words a user can act on.
  public var reason: String
  public var description: String { "\(setting): \(reason)" }
}
