import ArgumentParser

struct BenchSTNGrad: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stn-grad", abstract: "B2: affine_grid + grid_sample forward+backward at 64x1x42x42.")
  func run() throws { throw NotImplemented(command: "stn-grad") }
}
