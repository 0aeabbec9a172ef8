//! Durations as people type and read them.

/// `12s`, `3m04s`, `2h05m`, `3d04h`.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `1 worker`, `2 workers`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A span in whole seconds, rounded to the nearest (0.99 s is 1 s, not 0 s).
pub fn round_secs(d: chrono::Duration) -> i64 {
    (d.num_milliseconds() + 500).div_euclid(1000)
}

/// Like `duration`, with tenths under ten seconds (`0.4s`, `9.9s`).
pub fn duration_ms(ms: i64) -> String {
    if (0..9_950).contains(&ms) {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        duration((ms + 500).div_euclid(1000))
    }
}

/// Parses `90`, `90s`, `15m`, `2h`, `7d` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {t:?}: use e.g. 90s, 15m, 2h or 7d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "invalid duration {t:?}: use e.g. 90s, 15m, 2h or 7d"
            ));
        }
    };
    Ok(n * mult)
}

/// `999`, `12.3k`, `4.5M`.
/// `text` cut to `max` characters, the last of them `…` when anything was cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

/// `text` on one line (runs of white space, newlines included, made one space), then
/// [`clip`]ped to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    clip(&text.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

pub fn tokens_short(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_second_spans_and_counts_read_right() {
        assert_eq!(round_secs(chrono::Duration::milliseconds(990)), 1);
        assert_eq!(round_secs(chrono::Duration::milliseconds(400)), 0);
        assert_eq!(duration_ms(990), "1.0s");
        assert_eq!(duration_ms(420), "0.4s");
        assert_eq!(duration_ms(65_000), "1m05s");
        assert_eq!(count(1, "worker"), "1 worker");
        assert_eq!(count(2, "worker"), "2 workers");
        assert_eq!(count(0, "run"), "0 runs");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(64), "1m04s");
        assert_eq!(duration(7500), "2h05m");
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("7d"), Ok(604800));
        assert_eq!(parse_duration("42"), Ok(42));
        assert!(parse_duration("soon").is_err());
    }
}
