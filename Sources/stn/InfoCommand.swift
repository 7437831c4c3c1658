import ArgumentParser

struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe images, image folders and IDX files as JSON lines.")
  func run() throws { throw NotImplemented(command: "info") }
}
