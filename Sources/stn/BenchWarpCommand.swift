import ArgumentParser

struct BenchWarp: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "warp", abstract: "B1: affine warp throughput (float32 NCHW and fused uint8).")
  func run() throws { throw NotImplemented(command: "warp") }
}
