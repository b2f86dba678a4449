import CBenchSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs closures on plain pthreads (not Swift tasks), so scheduling is the kernel's alone.
enum Threads {
    /// Wall and on-CPU time of one thread's loop.
    struct Timing {
        var wall: Duration = .zero
        var cpu: Duration = .zero
    }

    /// Carries one thread's work and result. Written by that thread only; read after `pthread_join`,
    /// which orders the write before the read.
    private final class Job: @unchecked Sendable {
        let body: @Sendable () -> Timing
        var result = Timing()
        init(_ body: @escaping @Sendable () -> Timing) { self.body = body }
    }

    /// Starts one thread per closure, waits for all, and returns what each returned.
    static func run(_ bodies: [@Sendable () -> Timing]) -> [Timing] {
        let jobs = bodies.map(Job.init)
        var threads: [pthread_t] = []
        for job in jobs {
            var thread = pthread_t()
            let argument = Unmanaged.passRetained(job).toOpaque()
            let created = pthread_create(
                &thread, nil,
                { raw in
                    guard let raw else { return nil }
                    let job = Unmanaged<Job>.fromOpaque(raw).takeRetainedValue()
                    job.result = job.body()
                    return nil
                }, argument)
            precondition(created == 0, "pthread_create failed: \(created)")
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        return jobs.map(\.result)
    }

    /// Holds a result across `pthread_join`, which orders the worker's write before the read.
    private final class ResultBox<T: Sendable>: @unchecked Sendable {
        var result: Result<T, any Error>? = nil
        var realtime = false
    }

    /// Runs `body` on a new pthread and waits for it. With `realtime` that thread first makes itself
    /// SCHED_FIFO (priority 5); it waits for no other thread, so it cannot starve one. A plain thread,
    /// never one of Swift concurrency's pool threads: libdispatch creates those from the thread that
    /// enqueues work, and a real-time pool would inherit the policy.
    ///
    /// - Returns: What `body` returned, and whether the thread ran real-time.
    static func runOnThread<T: Sendable>(
        realtime: Bool, _ body: @escaping @Sendable () throws -> T
    ) throws -> (T, realtime: Bool) {
        let box = ResultBox<T>()
        _ = run([
            {
                box.realtime = realtime && bench_make_thread_realtime(5) == 0
                box.result = Result { try body() }
                return Timing()
            }
        ])
        guard let result = box.result else { throw BenchError("the measuring thread returned nothing") }
        return (try result.get(), box.realtime)
    }

    struct Scaling {
        /// Throughput of N threads / throughput of 1, per repetition.
        var speedup: [Double] = []
        /// ns per operation, 1 thread (wall).
        var single: [Double] = []
        /// ns per operation per thread, N threads (wall of the slowest thread).
        var parallelWall: [Double] = []
        /// on-CPU ns per operation, 1 thread and N threads (mean over threads): if the CPU time per
        /// operation grows with threads, they contend (shared cache lines); if only the wall time
        /// grows, the machine was busy.
        var singleCPU: [Double] = []
        var parallelCPU: [Double] = []

        /// N × the fastest 1-thread time per operation / the fastest N-thread time, each the best
        /// of its repetitions. A neighbour on a shared host only ever slows a repetition, and a
        /// burst that lands on one half of a repetition (1 thread or N) skews that repetition's
        /// ratio either way, so the median of ratios wanders by run; the fastest of each half is
        /// the nearest to what the machine itself does.
        func bestSpeedup(threadCount: Int) -> Double? {
            guard let single = single.min(), let wall = parallelWall.min(), wall > 0 else { return nil }
            return Double(threadCount) * single / wall
        }
    }

    /// Throughput of `threadCount` threads each running `work(thread, iterations)` at once, over one
    /// thread doing the same alone: 1.0 means no gain, `threadCount` means perfect scaling.
    ///
    /// With `realtime`, each measuring thread first makes itself SCHED_FIFO (priority 10), so other
    /// processes cannot take the cores; the second result says whether that worked (it needs
    /// CAP_SYS_NICE). The threads wait only for each other (all at the same priority), never for a
    /// lower-priority thread, so a spinning real-time thread cannot starve the one it waits for.
    static func speedup(
        threadCount: Int, iterations: Int, repetitions: Int, realtime: Bool,
        _ work: @escaping @Sendable (Int, Int) -> UInt64
    ) -> (Scaling, realtime: Bool) {
        let refused = Atomic<Int>(0)
        @Sendable func elevate() {
            if realtime, bench_make_thread_realtime(10) != 0 { refused.add(1, ordering: .relaxed) }
        }
        var scaling = Scaling()
        warmUp(iterations: iterations, elevate: elevate, work)
        for _ in 0..<repetitions {
            repetition(threadCount: threadCount, iterations: iterations, elevate: elevate, work, into: &scaling)
        }
        return (scaling, realtime && refused.load(ordering: .relaxed) == 0)
    }

    /// ``speedup(threadCount:iterations:repetitions:realtime:_:)`` of `work` and of `control`,
    /// their repetitions interleaved (work, control, work, …), so both see the same machine:
    /// on a shared machine the control's speed-up is the scaling the run could have had.
    static func pairedSpeedup(
        threadCount: Int, iterations: Int, controlIterations: Int, repetitions: Int, realtime: Bool,
        _ work: @escaping @Sendable (Int, Int) -> UInt64, control: @escaping @Sendable (Int, Int) -> UInt64
    ) -> (Scaling, control: Scaling, realtime: Bool) {
        let refused = Atomic<Int>(0)
        @Sendable func elevate() {
            if realtime, bench_make_thread_realtime(10) != 0 { refused.add(1, ordering: .relaxed) }
        }
        var scaling = Scaling()
        var controlScaling = Scaling()
        warmUp(iterations: iterations, elevate: elevate, work)
        warmUp(iterations: controlIterations, elevate: elevate, control)
        for _ in 0..<repetitions {
            repetition(threadCount: threadCount, iterations: iterations, elevate: elevate, work, into: &scaling)
            repetition(
                threadCount: threadCount, iterations: controlIterations, elevate: elevate, control,
                into: &controlScaling)
        }
        return (scaling, controlScaling, realtime && refused.load(ordering: .relaxed) == 0)
    }

    private static func warmUp(
        iterations: Int, elevate: @escaping @Sendable () -> Void, _ work: @escaping @Sendable (Int, Int) -> UInt64
    ) {
        _ = run([
            {
                elevate()
                return time { work(0, max(1, iterations / 10)) }
            }
        ])
    }

    /// One repetition: `work` alone on one thread, then on `threadCount` threads at once.
    private static func repetition(
        threadCount: Int, iterations: Int, elevate: @escaping @Sendable () -> Void,
        _ work: @escaping @Sendable (Int, Int) -> UInt64, into scaling: inout Scaling
    ) {
        let n = Double(iterations)
        let single = run([
            {
                elevate()
                return time { work(0, iterations) }
            }
        ])[0]
        // The threads start together: each waits until all have arrived.
        let start = StartLine(threadCount)
        let bodies: [@Sendable () -> Timing] = (0..<threadCount).map { index in
            {
                elevate()
                start.arrive()
                return time { work(index, iterations) }
            }
        }
        let results = run(bodies)
        let wall = results.map(\.wall).max() ?? .zero
        let cpu = results.map(\.cpu.nanoseconds).reduce(0, +) / Double(threadCount)
        scaling.speedup.append((Double(threadCount) * n / wall.nanoseconds) / (n / single.wall.nanoseconds))
        scaling.single.append(single.wall.nanoseconds / n)
        scaling.parallelWall.append(wall.nanoseconds / n)
        scaling.singleCPU.append(single.cpu.nanoseconds / n)
        scaling.parallelCPU.append(cpu / n)
    }

    private static func time(_ work: () -> UInt64) -> Timing {
        let cpuStart = threadCPUTime()
        let start = Measure.clock.now
        blackHole(work())
        let wall = Measure.clock.now - start
        return Timing(wall: wall, cpu: threadCPUTime() - cpuStart)
    }

    /// This thread's CPU time. Calls `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.
    static func threadCPUTime() -> Duration { .nanoseconds(Int64(bench_thread_cpu_ns())) }
}

/// A start line for a fixed number of threads: each spins in ``arrive()`` until all have arrived,
/// or at most 2 seconds, so a real-time spinner can never hold a core for long.
final class StartLine: Sendable {
    private let arrived = Atomic<Int>(0)
    private let count: Int

    init(_ count: Int) { self.count = count }

    func arrive() {
        arrived.add(1, ordering: .acquiringAndReleasing)
        let deadline = Measure.clock.now + .seconds(2)
        var spins = 0
        while arrived.load(ordering: .acquiring) < count {
            spins &+= 1
            if spins & 0xffff == 0, Measure.clock.now > deadline { return }
        }
    }
}
