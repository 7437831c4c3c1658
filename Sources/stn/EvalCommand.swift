import ArgumentParser

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate a checkpoint: accuracy, per-class accuracy, confusion matrix.")
  func run() throws { throw NotImplemented(command: "eval") }
}
