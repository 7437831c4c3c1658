import ArgumentParser

struct BenchDecode: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "decode", abstract: "B4: JPEG decode throughput, one thread.")
  func run() throws { throw NotImplemented(command: "decode") }
}
