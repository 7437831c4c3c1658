import ArgumentParser

struct BenchPipeline: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pipeline", abstract: "B3: decode -> augment -> batch throughput on a folder.")
  func run() throws { throw NotImplemented(command: "pipeline") }
}
