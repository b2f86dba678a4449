import Foundation

/// Parsing and printing of the times and durations Sigil's front ends accept. Strict: anything
/// else is refused, and ``accepted`` says what would be taken.
///
/// ```swift
/// let t = TimeText.parseTime("2026-01-31T12:00:00Z")   // 1_801_224_000
/// let d = TimeText.parseDuration("90d")                // 7_776_000
/// print(TimeText.format(t ?? 0))
/// ```
public enum TimeText {
    public static let accepted =
        "use RFC 3339 (2026-01-31T12:00:00Z, 2026-01-31T14:00:00+02:00) or YYYY-MM-DD (UTC midnight)"

    /// RFC 3339 date-time with `Z` or an offset (fractional seconds truncated), or `YYYY-MM-DD` in UTC.
    public static func parseTime(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var v = 0
            for i in range {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 10, let year = digits(0..<4), b[4] == 0x2d, let month = digits(5..<7), b[7] == 0x2d,
            let day = digits(8..<10), (1...12).contains(month), (1...daysIn(month, year)).contains(day), year >= 1970
        else { return nil }
        let days = daysFromCivil(year, month, day)
        if b.count == 10 { return days * 86_400 }
        guard b.count >= 20, b[10] == 0x54 || b[10] == 0x74, let hour = digits(11..<13), b[13] == 0x3a,
            let minute = digits(14..<16), b[16] == 0x3a, let second = digits(17..<19), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var i = 19
        if b[i] == 0x2e {
            i += 1
            let start = i
            while i < b.count, (48...57).contains(b[i]) { i += 1 }
            guard i > start, i - start <= 9 else { return nil }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == 0x5a || b[i] == 0x7a {
            i += 1
        } else if b[i] == 0x2b || b[i] == 0x2d {
            guard let oh = digits((i + 1)..<(i + 3)), i + 3 < b.count, b[i + 3] == 0x3a,
                let om = digits((i + 4)..<(i + 6)), oh < 24, om < 60
            else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == 0x2d ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        return days * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset)
    }

    /// The longest duration accepted: 100 years of 365 days.
    public static let maxDuration: Int64 = 100 * 31_536_000

    /// What ``parseDuration(_:)`` takes, for messages.
    public static let acceptedDurations = "a duration like 90d, 12h, 2w or 1y"

    /// Whether `seconds` is a duration Sigil accepts: positive and at most ``maxDuration``.
    public static func isDuration(_ seconds: Int64) -> Bool { (1...maxDuration).contains(seconds) }

    /// `90d`, `12h`, `30m`, `45s`, `2w`, `1y` (365 days). Positive, at most ``maxDuration``.
    ///
    /// The one duration parser: the CLI's `--expires-in` and the API's `expires_in` both use it.
    public static func parseDuration(_ text: String) -> Int64? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value > 0, text.first != "+" else {
            return nil
        }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        case "w": seconds = 604_800
        case "y": seconds = 31_536_000
        default: return nil
        }
        let (total, overflow) = value.multipliedReportingOverflow(by: seconds)
        guard !overflow, isDuration(total) else { return nil }
        return total
    }

    /// `2026-01-31T12:00:00Z`. Hand-formatted: String(format:) goes through CoreFoundation
    /// and dominated `list` on 100k tokens.
    public static func format(_ seconds: Int64) -> String {
        // Floor division without overflow: hostile lists and tokens carry any Int64.
        var (days, remainder) = seconds.quotientAndRemainder(dividingBy: 86_400)
        if remainder < 0 {
            days -= 1
            remainder += 86_400
        }
        let rest = Int(remainder)
        let (y, m, d) = civilFromDays(days)
        // Years outside 0...9999 have no RFC 3339 form: show the raw Unix seconds.
        guard (0...9999).contains(y) else { return "@\(seconds)" }
        return String(unsafeUninitializedCapacity: 24) { out in
            var o = 0
            func put(_ v: Int, _ width: Int) {
                var v = v
                for i in stride(from: width - 1, through: 0, by: -1) {
                    out[o + i] = UInt8(48 + v % 10)
                    v /= 10
                }
                o += width
            }
            func sep(_ c: UInt8) {
                out[o] = c
                o += 1
            }
            put(y, 4)
            sep(0x2d)
            put(m, 2)
            sep(0x2d)
            put(d, 2)
            sep(0x54)
            put(rest / 3600, 2)
            sep(0x3a)
            put(rest % 3600 / 60, 2)
            sep(0x3a)
            put(rest % 60, 2)
            sep(0x5a)
            return o
        }
    }

    /// `2026-01-31` at midnight UTC, `2026-01-31 12:00:00Z` otherwise, `never` for nil.
    public static func formatDate(_ seconds: Int64?) -> String {
        guard let seconds else { return "never" }
        var t = format(seconds)
        if t.hasPrefix("@") { return t }
        if seconds % 86_400 == 0 { return String(decoding: t.utf8.prefix(10), as: UTF8.self) }
        return t.withUTF8 { b in
            String(unsafeUninitializedCapacity: b.count) { out in
                for i in 0..<b.count { out[i] = i == 10 ? 0x20 : b[i] }
                return b.count
            }
        }
    }

    private static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's civil-date algorithms: exact for the proleptic Gregorian calendar.
    private static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int64(era * 146_097 + doe - 719_468)
    }

    private static func civilFromDays(_ z0: Int64) -> (Int, Int, Int) {
        let z = Int(z0) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
