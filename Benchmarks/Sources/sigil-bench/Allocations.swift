import CBenchSupport

/// Heap allocations per operation, counted by CBenchSupport's malloc interposer.
enum Allocations {
    struct PerOperation {
        var allocations: Double
        var frees: Double
        var bytes: Double
    }

    /// Counts the allocations of `body(iterations)` (after one warm-up run) and divides by `iterations`.
    static func perOperation(iterations: Int, _ body: (Int) -> UInt64) -> PerOperation {
        blackHole(body(max(1, iterations / 10)))
        bench_alloc_start()
        let folded = body(iterations)
        let counts = bench_alloc_stop()
        blackHole(folded)
        let n = Double(iterations)
        return PerOperation(
            allocations: Double(counts.allocations) / n, frees: Double(counts.frees) / n,
            bytes: Double(counts.bytes) / n)
    }

    /// Whether allocations made by the Swift runtime reach the counter: a returned array must count.
    static func interposerWorks() -> Bool {
        bench_alloc_start()
        let array = escapingArray(16 + Int(blackHoleValue() & 1))
        let counts = bench_alloc_stop()
        blackHole(UInt64(array.count))
        return counts.allocations >= 1
    }

    @inline(never)
    private static func escapingArray(_ count: Int) -> [Int] { Array(repeating: 7, count: count) }
}
