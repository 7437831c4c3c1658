import XCTest
import STNTensor

final class GEMMTests: XCTestCase {
  /// The OpenBLAS path and the naive twin agree for every transpose combination.
  func testSgemmMatchesReference() {
    var rng = RandomStream(seed: 7)
    let M = 37, N = 29, K = 53
    let a = (0..<(M * K)).map { _ in rng.nextUnitFloat() - 0.5 }
    let b = (0..<(K * N)).map { _ in rng.nextUnitFloat() - 0.5 }
    for ta in [false, true] {
      for tb in [false, true] {
        var fast = [Float](repeating: 1, count: M * N)
        var slow = fast
        let lda = ta ? M : K, ldb = tb ? K : N
        sgemm(transposeA: ta, transposeB: tb, M: M, N: N, K: K, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &fast, ldc: N)
        sgemmReference(transposeA: ta, transposeB: tb, M: M, N: N, K: K, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &slow, ldc: N)
        for i in 0..<(M * N) { XCTAssertEqual(fast[i], slow[i], accuracy: 1e-4, "ta=\(ta) tb=\(tb) i=\(i)") }
      }
    }
  }

  /// A 2x2 product worked by hand.
  func testSgemmHandComputed() {
    let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
    var c = [Float](repeating: 0, count: 4)
    sgemm(transposeA: false, transposeB: false, M: 2, N: 2, K: 2, a, lda: 2, b, ldb: 2, &c, ldc: 2)
    XCTAssertEqual(c, [19, 22, 43, 50])
  }
}
