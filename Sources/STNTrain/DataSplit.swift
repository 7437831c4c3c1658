import STNTensor

/// Seeded partitions of a dataset's sample indices: a hold-out validation split and k folds.
///
/// The permutation depends only on (seed, count), so a resumed run and every fold of a
/// cross-validation see the same partition.
public enum DataSplit {
  /// A seeded Fisher-Yates permutation of `0..<count`.
  public static func permutation(count: Int, seed: UInt64) -> [Int] {
    var order = Array(0..<count)
    var random = RandomStream(seed: seed, salt: 0x5B11_7000)
    if count > 1 {
      for i in stride(from: count - 1, to: 0, by: -1) {
        let j = Int(random.next() % UInt64(i + 1))
        order.swapAt(i, j)
      }
    }
    return order
  }

  /// Holds out `round(fraction·count)` samples for validation (none when `fraction` is 0).
  /// Both index lists come back sorted so the loader's own shuffle decides the order.
  public static func validation(count: Int, fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
    precondition(fraction >= 0 && fraction < 1, "validation fraction must be in [0, 1)")
    let held = Int((fraction * Double(count)).rounded())
    guard held > 0 else { return (Array(0..<count), []) }
    let order = permutation(count: count, seed: seed)
    return (Array(order[held...]).sorted(), Array(order[..<held]).sorted())
  }

  /// K folds: fold `i` validates on the i-th contiguous slice of the permutation and trains on
  /// the rest. Slice sizes differ by at most one.
  public static func folds(count: Int, k: Int, seed: UInt64) -> [(train: [Int], validation: [Int])] {
    precondition(k >= 2 && k <= count, "need 2 <= k <= count")
    let order = permutation(count: count, seed: seed)
    return splitRange(count, parts: k).map { slice in
      let held = Set(order[slice])
      let validation = order[slice].sorted()
      let train = (0..<count).filter { !held.contains($0) }
      return (train, validation)
    }
  }
}
