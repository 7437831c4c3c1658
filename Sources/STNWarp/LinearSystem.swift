// Small dense linear systems in double precision: the 8x8 system of a homography through four
// point pairs and the (K+3)x(K+3) system of a thin-plate spline. Gaussian elimination with
// partial pivoting; sizes here stay below ~100, so nothing cleverer pays off.

/// Solves A·X = B for X.
///
/// a: n x n, row-major; b: n x columns, row-major -> X: n x columns, row-major. Nil when A is
/// singular (a pivot below `1e-12` times the largest entry of A) or an entry is not finite.
public func solveLinearSystem(_ a: [Double], _ b: [Double], size n: Int, columns: Int) -> [Double]? {
  precondition(a.count == n * n && b.count == n * columns, "solveLinearSystem: A must be \(n)x\(n), B \(n)x\(columns)")
  guard a.allSatisfy({ $0.isFinite }), b.allSatisfy({ $0.isFinite }) else { return nil }
  var m = a, x = b
  let scale = a.reduce(0) { max($0, abs($1)) }
  guard scale > 0 else { return nil }
  for column in 0..<n {
    // Partial pivoting: the row with the largest entry in this column.
    var pivot = column
    for row in (column + 1)..<n where abs(m[row * n + column]) > abs(m[pivot * n + column]) { pivot = row }
    guard abs(m[pivot * n + column]) > 1e-12 * scale else { return nil }
    if pivot != column {
      for k in 0..<n { m.swapAt(pivot * n + k, column * n + k) }
      for k in 0..<columns { x.swapAt(pivot * columns + k, column * columns + k) }
    }
    let diagonal = m[column * n + column]
    for row in (column + 1)..<n {
      let factor = m[row * n + column] / diagonal
      if factor == 0 { continue }
      for k in column..<n { m[row * n + k] -= factor * m[column * n + k] }
      for k in 0..<columns { x[row * columns + k] -= factor * x[column * columns + k] }
    }
  }
  // Back substitution.
  for row in stride(from: n - 1, through: 0, by: -1) {
    for k in 0..<columns {
      var sum = x[row * columns + k]
      for j in (row + 1)..<n { sum -= m[row * n + j] * x[j * columns + k] }
      x[row * columns + k] = sum / m[row * n + row]
    }
  }
  return x.allSatisfy({ $0.isFinite }) ? x : nil
}
