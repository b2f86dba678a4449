import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small per-thread number, assigned round-robin on a thread's first call, so that
/// threads spread over ``ShardedList`` slots. Uses `pthread_getspecific`.
enum ThreadSlot {
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
