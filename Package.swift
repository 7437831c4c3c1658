// swift-tools-version:6.0
//
// swift-stn: spatial-transformer image augmentation and training, PyTorch-exact, without Python.
//
// Module boundaries (a module never reaches "up"):
//   C shims        CJPEG, CPNG, CZlib, COpenBLAS   (longjmp-based libraries stay in C)
//   CMPI           Open MPI loaded at run time (its handles are macros Swift cannot import)
//   CWarpKernels   AVX2 warp kernels, run-time dispatched from STNWarp
//   STNTensor      tensors, threading, RNG, GEMM, run-time policy (no file I/O)
//   STNFiles       atomic writes, safetensors           (file formats, no codecs)
//   STNImageIO     JPEG/PNG codecs, IDX, ImageFolder    (no network code)
//   STNDrawing     text, grids, tables, line plots      (pictures made by the tool)
//   STNWarp        affine math, affine_grid, grid_sample, fused uint8 warp
//   STNPipeline    YAML pipelines, streaming loader, augment/export
//   STNNetwork     differentiable ops, autograd graph, layers, optimizers, checkpoints
//   STNTensorBoard TensorBoard event-file writer
//   STNDistributed communicator: one process, or the ranks of mpirun/srun (no file I/O)
//   STNTrain       trainer/evaluator tying pipeline and network together (data-parallel
//                  over an STNDistributed communicator)
//   stn            the command-line tool: wiring only
import PackageDescription

// MARK: - Settings shared by the Swift targets

/// Kernels are written with unsafe pointers; exclusivity checks cost time in the hot loops and
/// buy nothing there. Swift 5 language mode keeps strict-concurrency noise out of kernel code.
let swiftSettings: [SwiftSetting] = [
  .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
  name: "swift-stn",
  products: [
    .executable(name: "stn", targets: ["stn"]),
    .library(name: "STNWarp", targets: ["STNWarp"]),
    .library(name: "STNPipeline", targets: ["STNPipeline"]),
    .library(name: "STNNetwork", targets: ["STNNetwork"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
  ],
  targets: [
    // MARK: - C shims for system libraries
    // The status codes and message buffer every codec shim returns (header-only).
    .target(name: "CShimStatus"),
    .target(name: "CJPEG", dependencies: ["CShimStatus"], linkerSettings: [.linkedLibrary("jpeg")]),
    .target(name: "CPNG", dependencies: ["CShimStatus"], linkerSettings: [.linkedLibrary("png"), .linkedLibrary("z")]),
    // zlib/gzip inflate for .gz IDX files (apart from the PNG codec that also links zlib).
    .target(name: "CZlib", dependencies: ["CShimStatus"], linkerSettings: [.linkedLibrary("z")]),
    // OpenBLAS is loaded with dlopen so OPENBLAS_CORETYPE can be chosen before it initializes.
    .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("dl")]),
    // AVX2 twins of the warp kernels, picked at run time (Swift cannot target one function).
    .target(name: "CWarpKernels"),
    // Open MPI is loaded with dlopen only under a launcher, so `stn` runs where it is missing.
    .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),

    // MARK: - Core modules
    .target(name: "STNTensor", dependencies: ["COpenBLAS"], swiftSettings: swiftSettings),
    .target(name: "STNFiles", dependencies: ["STNTensor"], swiftSettings: swiftSettings),
    .target(name: "STNImageIO", dependencies: ["CJPEG", "CPNG", "CZlib", "STNFiles"], swiftSettings: swiftSettings),
    // Drawing (text, tiled grids, tables, line plots) for sheets, curves and TensorBoard images.
    .target(name: "STNDrawing", dependencies: ["STNImageIO"], swiftSettings: swiftSettings),
    .target(name: "STNWarp", dependencies: ["STNTensor", "CWarpKernels"], swiftSettings: swiftSettings),
    .target(
      name: "STNPipeline",
      dependencies: ["STNTensor", "STNFiles", "STNImageIO", "STNDrawing", "STNWarp", .product(name: "Yams", package: "Yams")],
      swiftSettings: swiftSettings),
    .target(name: "STNNetwork", dependencies: ["STNTensor", "STNFiles", "STNWarp"], swiftSettings: swiftSettings),
    .target(name: "STNTensorBoard", dependencies: ["STNFiles"], swiftSettings: swiftSettings),
    .target(
      name: "STNTrain",
      dependencies: [
        "STNPipeline", "STNNetwork", "STNTensorBoard", "STNImageIO", "STNDrawing", "STNWarp", "STNFiles", "STNDistributed",
      ],
      swiftSettings: swiftSettings),
    .target(name: "STNDistributed", dependencies: ["CMPI"], swiftSettings: swiftSettings),

    // MARK: - Command-line tool
    .executableTarget(
      name: "stn",
      dependencies: [
        "STNTensor", "STNFiles", "STNImageIO", "STNWarp", "STNPipeline", "STNNetwork", "STNTrain",
        "STNDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings),

    // MARK: - Tests
    .target(name: "STNTestSupport", dependencies: ["STNTensor", "STNFiles"], path: "Tests/STNTestSupport"),
    .testTarget(name: "STNTensorTests", dependencies: ["STNTensor", "STNTestSupport"]),
    .testTarget(name: "STNFilesTests", dependencies: ["STNFiles", "STNTestSupport"]),
    .testTarget(name: "STNImageIOTests", dependencies: ["STNImageIO", "STNTestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "STNDrawingTests", dependencies: ["STNDrawing", "STNTestSupport"]),
    .testTarget(
      name: "STNWarpTests", dependencies: ["STNWarp", "STNFiles", "STNTestSupport"],
      exclude: ["Fixtures"]),  // located through #filePath, read as files
    .testTarget(name: "STNPipelineTests", dependencies: ["STNPipeline", "STNTestSupport"]),
    .testTarget(
      name: "STNNetworkTests", dependencies: ["STNNetwork", "STNTestSupport"],
      exclude: ["Ops/Fixtures"]),  // located through #filePath, read as files
    .testTarget(name: "STNTensorBoardTests", dependencies: ["STNTensorBoard", "STNTestSupport"]),
    .testTarget(name: "STNTrainTests", dependencies: ["STNTrain", "STNDistributed", "STNTestSupport"]),
    .testTarget(name: "STNDistributedTests", dependencies: ["STNDistributed", "STNTestSupport"]),
    .testTarget(name: "stnTests", dependencies: ["STNTestSupport", "STNFiles"]),
  ],
  swiftLanguageModes: [.v5]
)
