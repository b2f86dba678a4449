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
    }

    /// Throughput of `threadCount` threads each running `work(thread, iterations)` at once, over one
    /// thread doing the same alone: 1.0 means no gain, `threadCount` means perfect scaling.
    static func speedup(
        threadCount: Int, iterations: Int, repetitions: Int, _ work: @escaping @Sendable (Int, Int) -> UInt64
    ) -> Scaling {
        var scaling = Scaling()
        _ = run([{ time { work(0, max(1, iterations / 10)) } }])  // warm-up
        let n = Double(iterations)
        for _ in 0..<repetitions {
            let single = run([{ time { work(0, iterations) } }])[0]
            // All threads spin on one flag, released by another thread, so they start together.
            let go = GoFlag()
            let bodies: [@Sendable () -> Timing] = (0..<threadCount).map { index in
                {
                    go.wait()
                    return time { work(index, iterations) }
                }
            }
            let results = run(bodies + [{ go.release(after: 20_000) }]).dropLast()
            let wall = results.map(\.wall).max() ?? .zero
            let cpu = results.map(\.cpu.nanoseconds).reduce(0, +) / Double(threadCount)
            scaling.speedup.append((Double(threadCount) * n / wall.nanoseconds) / (n / single.wall.nanoseconds))
            scaling.single.append(single.wall.nanoseconds / n)
            scaling.parallelWall.append(wall.nanoseconds / n)
            scaling.singleCPU.append(single.cpu.nanoseconds / n)
            scaling.parallelCPU.append(cpu / n)
        }
        return scaling
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

/// A start line: threads spin on it until it is released.
final class GoFlag: Sendable {
    private let released = Atomic<Bool>(false)

    func wait() { while !released.load(ordering: .acquiring) {} }

    /// Sleeps `microseconds` (so the waiting threads are spinning by then), then releases them.
    func release(after microseconds: UInt32) -> Threads.Timing {
        usleep(microseconds)
        released.store(true, ordering: .releasing)
        return Threads.Timing()
    }
}
