import ArgumentParser

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a contact sheet of originals beside transformed samples.")
  func run() throws { throw NotImplemented(command: "export") }
}
