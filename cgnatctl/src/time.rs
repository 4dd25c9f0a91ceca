//! Times on the command line and in tables: RFC 3339 (`2026-11-21T10:42:07Z`, fractions and
//! `+hh:mm` offsets allowed) or Unix seconds (`1763721727`, `1763721727.5`) in; RFC 3339 UTC
//! with milliseconds out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a time given on the command line.
pub fn parse(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if !(0.0..=1e11).contains(&secs) {
            return Err(format!("{s:?}: Unix seconds out of range"));
        }
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    rfc3339(s)
        .ok_or_else(|| format!("{s:?}: expected RFC 3339 (2026-11-21T10:42:07Z) or Unix seconds"))
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days from 1970-01-01 to the civil date (proleptic Gregorian), H. Hinnant's algorithm.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn rfc3339(s: &str) -> Option<SystemTime> {
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let (clock, offset_secs) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off.get(1..)?.split_once(':')?;
        (c, sign * (num(oh)? * 3600 + num(om)? * 60))
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, f),
        None => (clock, ""),
    };
    let mut t = hms.split(':');
    let (h, mi, se) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        u32::try_from(num(&digits)?).ok()?
    };
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// RFC 3339 UTC with milliseconds.
pub fn format(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut s = String::new();
    control::logging::syslog::write_rfc3339_ms(&mut s, ms);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse("1700000000").unwrap(), t);
        assert_eq!(parse("2023-11-14T22:13:20Z").unwrap(), t);
        assert_eq!(parse("2023-11-14T23:13:20+01:00").unwrap(), t);
        assert_eq!(parse("2023-11-14T21:13:20-01:00").unwrap(), t);
        assert_eq!(
            parse("2023-11-14T22:13:20.25Z").unwrap(),
            t + Duration::from_millis(250)
        );
        assert_eq!(
            format(t + Duration::from_millis(250)),
            "2023-11-14T22:13:20.250Z"
        );
        for bad in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13Z",
            "-5",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
