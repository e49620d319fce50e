//! Dates on the command line: Unix seconds, RFC 3339 (`2025-06-01T12:00:00Z`,
//! `2025-06-01T14:00:00+02:00`), a bare date (`2025-06-01`, midnight UTC) or `now`. Printed
//! as RFC 3339 in UTC. Hand-written (a few lines) to keep the dependency tree small.

/// Current Unix time in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, what: &str) -> Result<i64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} {s:?}"));
    }
    s.parse::<i64>().map_err(|_| format!("bad {what} {s:?}"))
}

/// Parse a date as described in the module documentation into Unix seconds.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || {
        format!("cannot read the date {text:?}: use Unix seconds, RFC 3339 (2025-06-01T12:00:00Z), YYYY-MM-DD or `now`")
    };
    if t.eq_ignore_ascii_case("now") {
        return Ok(now());
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().map_err(|_| bad());
    }
    let (date, time) = match t.find(['T', 't', ' ']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let dp: Vec<&str> = date.split('-').collect();
    if dp.len() != 3 || dp[0].len() != 4 || dp[1].len() != 2 || dp[2].len() != 2 {
        return Err(bad());
    }
    let (y, mo, d) = (
        num(dp[0], "year").map_err(|_| bad())?,
        num(dp[1], "month").map_err(|_| bad())?,
        num(dp[2], "day").map_err(|_| bad())?,
    );
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    if let Some(time) = time {
        // HH:MM:SS[.frac](Z|±HH:MM)
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0i64)
        } else {
            let i = time.rfind(['+', '-']).ok_or_else(bad)?;
            let (c, off) = time.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let op: Vec<&str> = off[1..].split(':').collect();
            if op.len() != 2 || op[0].len() != 2 || op[1].len() != 2 {
                return Err(bad());
            }
            let (oh, om) = (num(op[0], "offset").map_err(|_| bad())?, num(op[1], "offset").map_err(|_| bad())?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            (c, sign * (oh * 3600 + om * 60))
        };
        let clock = clock.split('.').next().unwrap_or(clock);
        let cp: Vec<&str> = clock.split(':').collect();
        if cp.len() != 3 || cp.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        let (h, mi, s) = (
            num(cp[0], "hour").map_err(|_| bad())?,
            num(cp[1], "minute").map_err(|_| bad())?,
            num(cp[2], "second").map_err(|_| bad())?,
        );
        if h > 23 || mi > 59 || s > 60 {
            return Err(bad());
        }
        secs += h * 3600 + mi * 60 + s - offset;
    }
    u64::try_from(secs).map_err(|_| format!("the date {text:?} is before 1970"))
}

/// Unix seconds as RFC 3339 UTC (`2025-06-01T12:00:00Z`).
pub fn format(unix: u64) -> String {
    let secs = i64::try_from(unix).unwrap_or(i64::MAX / 2);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(parse("0").unwrap(), 0);
        assert_eq!(parse("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(format(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(parse("2023-11-14T23:13:20.5+01:00").unwrap(), 1_700_000_000);
        assert_eq!(parse("2023-11-14T21:13:20-01:00").unwrap(), 1_700_000_000);
        assert_eq!(parse("2024-02-29").unwrap(), 1_709_164_800);
        assert_eq!(format(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(parse("1970-01-01").unwrap(), 0);
        assert!(parse("2023-02-29").is_err());
        assert!(parse("2023-13-01").is_err());
        assert!(parse("yesterday").is_err());
        assert!(parse("1969-12-31").is_err());
        assert!(parse("2023-11-14T25:00:00Z").is_err());
        let n = now();
        assert!(parse("now").unwrap() >= n);
        for t in [0u64, 86_399, 951_782_400, 4_102_444_800] {
            assert_eq!(parse(&format(t)).unwrap(), t);
        }
    }
}
