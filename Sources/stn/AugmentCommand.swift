import ArgumentParser

struct Augment: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "augment", abstract: "Run a pipeline over an image folder and write the transformed images.")
  func run() throws { throw NotImplemented(command: "augment") }
}
