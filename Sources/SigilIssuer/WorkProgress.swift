/// How far a long operation has got: what a front end shows while it waits.
///
/// Long operations (a ledger backup or restore, `ledger migrate`, the v0.1 import that opening a
/// v0.1 home runs) count their own work and call a ``ProgressHandler`` with one of these as they
/// go: at most every few hundred items, and once more when a step ends (`done == total`). The handler decides what
/// to do with it; the CLI draws a line on a terminal at most ten times a second and nothing
/// otherwise. The library never writes to a terminal.
///
/// ```swift
/// let backup = try issuer.backupLedger(to: "/backup/sigil-2027-01-15.db") { progress in
///     if let total = progress.total { print(progress.step, progress.done, "of", total, progress.unit) }
/// }
/// ```
public struct WorkProgress: Sendable, Hashable {
    /// What ``done`` and ``total`` count.
    public enum Unit: String, Sendable, Hashable {
        /// Database pages (4 KiB each by default).
        case pages
        /// Token rows.
        case tokens
        /// Rows of any table.
        case rows
        /// Bytes of a file.
        case bytes
        /// Files.
        case files
    }

    /// The step under way, a few lowercase words ("copying", "checking rows").
    public let step: String
    /// How many units are done so far in this step.
    public let done: Int64
    /// How many the step has in all, or nil while that is not known.
    public let total: Int64?
    public let unit: Unit

    public init(step: String, done: Int64, total: Int64?, unit: Unit) {
        self.step = step
        self.done = done
        self.total = total
        self.unit = unit
    }
}

/// What a long operation calls with its ``WorkProgress``. Called on the operation's thread,
/// inside its transaction: keep it short and never call back into the ``Issuer``.
public typealias ProgressHandler = (WorkProgress) -> Void

/// Reports one step's progress every `every` items, and always at its end, so a loop over a
/// million rows makes a few thousand calls, not a million.
struct ProgressCounter {
    let step: String
    let total: Int64?
    let unit: WorkProgress.Unit
    let every: Int64
    let handler: ProgressHandler?
    private(set) var done: Int64 = 0

    init(_ step: String, total: Int64?, unit: WorkProgress.Unit, every: Int64 = 500, _ handler: ProgressHandler?) {
        self.step = step
        self.total = total
        self.unit = unit
        self.every = max(1, every)
        self.handler = handler
    }

    /// Counts `n` more items done, reporting when a multiple of `every` was passed.
    mutating func add(_ n: Int64 = 1) {
        guard let handler else { return }
        let before = done / every
        done += n
        if done / every != before { handler(WorkProgress(step: step, done: done, total: total, unit: unit)) }
    }

    /// Sets the count (for work measured from outside, such as pages copied) and reports it.
    mutating func set(_ n: Int64) {
        done = n
        handler?(WorkProgress(step: step, done: done, total: total, unit: unit))
    }

    /// Reports the step as begun (nothing done yet): a front end can show it while the first
    /// items are under way, or for the whole step when it has no count.
    func begin() {
        handler?(WorkProgress(step: step, done: done, total: total, unit: unit))
    }

    /// Reports the step as finished: `done` equals the total when one is known.
    func finish() {
        handler?(WorkProgress(step: step, done: total ?? done, total: total ?? done, unit: unit))
    }
}
