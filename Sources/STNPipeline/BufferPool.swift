import Foundation

/// Recycles the loader's large float batch buffers between loaders (one loader per epoch), so a
/// new epoch does not page-fault tens of megabytes of fresh memory in again. Holds at most
/// `limit` idle buffers, so memory stays bounded.
enum BufferPool {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var idle: [(capacity: Int, pointer: UnsafeMutablePointer<Float>)] = []
  /// One loader's ring (prefetch 2 + 1) plus one: idle buffers count in resident memory.
  static let limit = 4

  /// A buffer of exactly `capacity` floats (contents unspecified).
  static func take(capacity: Int) -> UnsafeMutablePointer<Float> {
    lock.lock()
    if let i = idle.firstIndex(where: { $0.capacity == capacity }) {
      let pointer = idle.remove(at: i).pointer
      lock.unlock()
      return pointer
    }
    lock.unlock()
    return UnsafeMutablePointer<Float>.allocate(capacity: capacity)
  }

  /// Returns a buffer from `take`; frees it (or the oldest idle one) when the pool is full.
  static func give(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
    lock.lock()
    idle.append((capacity, pointer))
    let overflow = idle.count > limit ? idle.removeFirst().pointer : nil
    lock.unlock()
    overflow?.deallocate()
  }
}
