import ArgumentParser
import Foundation
import STNTrain

/// The checkpoint form of `stn export`: `stn export CHECKPOINT --input DIR --output DIR|FILE.png`
/// writes the trained spatial transformer's rectified images, or a sheet of input /
/// transformed / predicted class. `Export` dispatches here for `.safetensors` sources.
enum ExportCheckpoint {
  static func run(checkpoint: String, input: String?, output: String, count: Int, threads: Int = 2) throws {
    guard let input else { throw ValidationError("stn export CHECKPOINT needs --input DIR (an image folder or a folder of IDX files)") }
    var request = CheckpointExport.Request(checkpoint: checkpoint, input: input, output: output)
    request.count = count
    request.threads = threads
    print(try CheckpointExport.run(request))
  }
}
