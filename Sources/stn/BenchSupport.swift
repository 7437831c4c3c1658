import Foundation
import STNFiles

// Shared by the `stn bench ...` commands: median-of-runs timing and one-JSON-line output.

/// Wall-clock timings of repeated runs of one piece of work.
struct BenchTiming {
  /// Seconds of each timed run, in run order.
  var seconds: [Double]
  /// Process CPU seconds (all threads) of each timed run: steadier than wall time on a shared
  /// machine, where other processes take turns on the cores.
  var cpuSeconds: [Double] = []

  /// Median process CPU seconds per run.
  var medianCPU: Double { BenchTiming(seconds: cpuSeconds).median }

  /// Median of the runs (mean of the middle two for an even count).
  var median: Double {
    let sorted = seconds.sorted()
    if sorted.isEmpty { return .nan }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }

  var minimum: Double { seconds.min() ?? .nan }

  /// Runs `body` once, timed: appends its wall and process CPU seconds.
  mutating func record(_ body: () -> Void) {
    let start = benchNow(), cpuStart = benchCPUNow()
    body()
    seconds.append(benchNow() - start)
    cpuSeconds.append(benchCPUNow() - cpuStart)
  }
}

/// Monotonic time in seconds.
func benchNow() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// CPU time of the whole process (every thread) in seconds.
func benchCPUNow() -> Double {
  var spec = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
  return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Runs `body` `warmup` times untimed, then `runs` times timed.
func measure(runs: Int, warmup: Int = 1, _ body: () -> Void) -> BenchTiming {
  for _ in 0..<max(warmup, 0) { body() }
  var timing = BenchTiming(seconds: [])
  for _ in 0..<max(runs, 1) { timing.record(body) }
  return timing
}

/// Prints `{"key":value,...}` in the given key order, one line, flushed.
func printJSONLine(_ fields: KeyValuePairs<String, JSONText>) {
  print(JSONText.object(fields.map { ($0.key, $0.value) }).description)
  fflush(stdout)
}
