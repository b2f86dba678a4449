import Synchronization

/// Results of every timed loop are folded in here, so the optimiser cannot drop the work.
let sink = Atomic<UInt64>(0)

/// Timing with `ContinuousClock`: each repetition runs a loop of `iterations` operations and
/// yields nanoseconds per operation; figures are the median over the repetitions.
enum Measure {
    static let clock = ContinuousClock()

    /// Runs `body(iterations)` once to warm up, then `repetitions` times, and returns the
    /// nanoseconds per operation of each timed repetition.
    static func nanosecondsPerOperation(
        repetitions: Int, iterations: Int, _ body: (Int) -> UInt64
    ) -> [Double] {
        blackHole(body(max(1, iterations / 10)))
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let start = clock.now
            let folded = body(iterations)
            let elapsed = clock.now - start
            blackHole(folded)
            samples.append(elapsed.nanoseconds / Double(iterations))
        }
        return samples
    }

    /// Times `body` `repetitions` times (after `warmUp` untimed runs) and returns milliseconds.
    static func milliseconds(repetitions: Int, warmUp: Int = 1, _ body: () -> UInt64) -> [Double] {
        for _ in 0..<warmUp { blackHole(body()) }
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let start = clock.now
            let folded = body()
            let elapsed = clock.now - start
            blackHole(folded)
            samples.append(elapsed.nanoseconds / 1e6)
        }
        return samples
    }

    static func median(_ samples: [Double]) -> Double {
        precondition(!samples.isEmpty, "median of no samples")
        let sorted = samples.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// The spread of `samples` around their median, (max - min) / median, to flag noisy figures.
    static func spread(_ samples: [Double]) -> Double {
        guard let low = samples.min(), let high = samples.max() else { return 0 }
        let m = median(samples)
        return m > 0 ? (high - low) / m : 0
    }
}

extension Duration {
    var nanoseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }
    var milliseconds: Double { nanoseconds / 1e6 }
}

/// SplitMix64: a fast, seeded generator, so every run benchmarks the same GUIDs.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Folds `value` into ``sink``.
func blackHole(_ value: UInt64) { sink.add(value, ordering: .relaxed) }

/// The current ``sink`` value, unknown to the optimiser.
func blackHoleValue() -> UInt64 { sink.load(ordering: .relaxed) }
