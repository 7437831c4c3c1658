import ArgumentParser

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a (spatial-transformer) classifier declared in a pipeline file.")
  func run() throws { throw NotImplemented(command: "train") }
}
