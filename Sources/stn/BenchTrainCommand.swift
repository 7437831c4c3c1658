import ArgumentParser

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "train", abstract: "B5: seconds per epoch of the benchmark ST-CNN.")
  func run() throws { throw NotImplemented(command: "train") }
}
