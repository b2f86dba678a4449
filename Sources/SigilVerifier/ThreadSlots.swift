import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed set of padded, mutex-guarded slots of `Payload`, with a home slot per thread: the
/// verifier's one unsafe primitive for per-thread state.
///
/// ``RevocationStore`` keeps a copy of the list in force (one reference) in each slot, so
/// concurrent lookups lock different cache lines. (``KeyedHMAC`` needs no slots: its prepared
/// SHA-256 states are read-only and copied onto each caller's stack.) Users rely on these
/// invariants, stated here and nowhere else:
///
/// 1. Slot `i`'s payload is read or written only while slot `i`'s mutex is held, and only
///    inside a `with…` body, which must not let the pointer escape.
/// 2. Slots are ``stride`` bytes apart on 128-byte boundaries (two cache lines, the unit the
///    adjacent-line prefetcher pulls), so threads working in different slots write disjoint
///    lines. Mutex at offset 0, payload at ``payloadOffset``.
/// 3. A thread's home slot is fixed for the thread's life and handed out round-robin on first
///    use. With more threads than slots, threads share homes: still correct by (1), only slower.
/// 4. The mutex is a `pthread_mutex_t`, not `Synchronization.Mutex`, because ThreadSanitizer
///    on Linux cannot see the latter and the verify-while-reload tests run under it.
/// 5. Payloads are initialised in `init` and deinitialised in `deinit`, nowhere else.
package final class ThreadSlots<Payload>: @unchecked Sendable {
    package static var count: Int { 16 }
    static var payloadOffset: Int { 64 }
    static var stride: Int { (payloadOffset + MemoryLayout<Payload>.stride + 127) / 128 * 128 }

    private let base: UnsafeMutableRawPointer

    /// Creates the slots, initialising slot `i` with `make(i)`.
    package init(_ make: (Int) -> Payload) {
        precondition(MemoryLayout<pthread_mutex_t>.size <= Self.payloadOffset, "pthread_mutex_t outgrew its room")
        base = UnsafeMutableRawPointer.allocate(byteCount: Self.count * Self.stride, alignment: 128)
        for i in 0..<Self.count {
            mutex(i).initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex(i), nil)
            payload(i).initialize(to: make(i))
        }
    }

    deinit {
        for i in 0..<Self.count {
            payload(i).deinitialize(count: 1)
            pthread_mutex_destroy(mutex(i))
            mutex(i).deinitialize(count: 1)
        }
        base.deallocate()
    }

    @inline(__always)
    private func mutex(_ i: Int) -> UnsafeMutablePointer<pthread_mutex_t> {
        (base + i * Self.stride).assumingMemoryBound(to: pthread_mutex_t.self)
    }

    @inline(__always)
    private func payload(_ i: Int) -> UnsafeMutablePointer<Payload> {
        (base + i * Self.stride + Self.payloadOffset).assumingMemoryBound(to: Payload.self)
    }

    /// Runs `body` on this thread's home slot, waiting for its mutex. Keep `body` short: a
    /// lookup, never I/O.
    @inline(__always)
    package func withHome<T>(_ body: (inout Payload) -> T) -> T {
        let i = ThreadHome.current & (Self.count - 1)
        pthread_mutex_lock(mutex(i))
        defer { pthread_mutex_unlock(mutex(i)) }
        return body(&payload(i).pointee)
    }

    /// Runs `body` on every slot in turn, each under its own mutex. A thread reading between
    /// two of these steps sees its own slot's old or new payload, never a torn one.
    package func forEach(_ body: (inout Payload) -> Void) {
        for i in 0..<Self.count {
            pthread_mutex_lock(mutex(i))
            body(&payload(i).pointee)
            pthread_mutex_unlock(mutex(i))
        }
    }
}

/// This thread's home slot number for ``ThreadSlots`` (which, being generic, cannot hold the
/// static state itself). Uses `pthread_getspecific`.
private enum ThreadHome {
    private static let next = Atomic<Int>(0)
    // Created once; pthread keys are a process-wide resource and this one is never deleted.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: Int {
        if let value = pthread_getspecific(key) { return Int(bitPattern: value) - 1 }
        let assigned = next.wrappingAdd(1, ordering: .relaxed).oldValue
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: assigned + 1))
        return assigned
    }
}
