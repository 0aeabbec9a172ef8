//! Reading codex's usage-limit messages: is this failure a usage limit, and when does
//! the limit reset?
//!
//! codex 0.169–0.171 turns an HTTP 429 `usage_limit_reached` into one line that ends
//! ` try again at T.` or ` try again later.` (see tests/contract/NOTES.md). T is the
//! reset in the worker's local time zone, at minute resolution (seconds truncated):
//! `10:51 PM` when the reset falls on today's local date, `Dec 4th, 2026 10:41 PM`
//! otherwise. The apostrophe of `You’ve` is U+2019 in current builds and ASCII in older
//! ones, and the URL in the middle changed between versions, so neither is matched.
//! codex itself never says "in N minutes"; that form is accepted anyway, in case a
//! future codex (or a proxy in front of the API) words it so.
//!
//! Only "hit your usage limit" counts: it is the one text that promises a reset. The
//! workspace texts (out of credits, spend cap), "upgrade to Plus" (codex not in the plan)
//! and "Quota exceeded" need a person to act, so waiting would not help; they stay
//! failures.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveTime, TimeZone, Utc};
use regex::Regex;

/// When a usage limit lifts, as far as codex's message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// The earliest moment the limit may have lifted. codex prints minutes only, so the
    /// real reset lies within the minute after the printed one: this is the end of it.
    At(DateTime<Utc>),
    /// "try again later", or a time that cannot be read.
    Unknown,
}

static LIMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)hit your usage limit").expect("valid regex"));

static AT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)try again at\s+(.+?)\.?\s*$").expect("valid regex"));

static TIME_ONLY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(\d{1,2}):(\d{2})\s*([ap])\.?m\.?$").expect("valid regex"));

static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}),?\s+(\d{1,2}):(\d{2})\s*([ap])\.?m\.?$",
    )
    .expect("valid regex")
});

static IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)try again in\s+(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)\b",
    )
    .expect("valid regex")
});

/// codex's words for a credential the API refused: a 401, or a ChatGPT login whose
/// rotating refresh token another codex process used first (`refresh_token_reused`).
static AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)refresh_token_reused|refresh token (was|has been) already used|could not be refreshed|sign in again|log in again|\b401\b|unauthorized|missing bearer|invalid_api_key|incorrect api key|token_expired|not logged in",
    )
    .expect("valid regex")
});

/// Whether a codex message says its credential was refused (needs `codex login`).
pub fn is_auth_failure(message: &str) -> bool {
    AUTH.is_match(message)
}

/// Whether a codex failure message is a usage limit that resets by itself.
pub fn is_usage_limit(message: &str) -> bool {
    LIMIT.is_match(message)
}

/// The reset named in `message`, read as local time relative to `now`.
pub fn reset(message: &str, now: DateTime<Local>) -> Reset {
    let message = message.trim();
    if let Some(c) = IN.captures(message) {
        let n: i64 = c[1].parse().unwrap_or(0);
        let unit = c[2].to_ascii_lowercase();
        let secs = match unit.chars().next() {
            Some('s') => n,
            Some('m') => n * 60,
            Some('h') => n * 3600,
            _ => n * 86400,
        };
        return Reset::At((now + Duration::seconds(secs)).with_timezone(&Utc));
    }
    let Some(c) = AT.captures(message) else {
        return Reset::Unknown;
    };
    let text = c[1].trim();
    let local = if let Some(t) = TIME_ONLY.captures(text) {
        time_of(&t[1], &t[2], &t[3]).and_then(|time| at_local(now.date_naive(), time))
    } else if let Some(d) = DATE_TIME.captures(text) {
        let date = month(&d[1])
            .and_then(|m| NaiveDate::from_ymd_opt(d[3].parse().ok()?, m, d[2].parse().ok()?));
        date.zip(time_of(&d[4], &d[5], &d[6]))
            .and_then(|(date, time)| at_local(date, time))
    } else {
        None
    };
    match local {
        // The printed minute plus the seconds codex cut off.
        Some(t) => Reset::At((t + Duration::seconds(60)).with_timezone(&Utc)),
        None => Reset::Unknown,
    }
}

fn time_of(hour: &str, minute: &str, half: &str) -> Option<NaiveTime> {
    let h: u32 = hour.parse().ok()?;
    let m: u32 = minute.parse().ok()?;
    if !(1..=12).contains(&h) {
        return None;
    }
    let pm = half.eq_ignore_ascii_case("p");
    let h24 = match (h, pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, false) => h,
        (h, true) => h + 12,
    };
    NaiveTime::from_hms_opt(h24, m, 0)
}

fn at_local(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Local>> {
    // A time that falls into a DST gap does not exist; the next valid reading does.
    Local
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .or_else(|| {
            Local
                .from_local_datetime(&(date.and_time(time) + Duration::hours(1)))
                .earliest()
        })
}

fn month(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let n = name.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == n).map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 12, 1, 22, 40, 10).unwrap()
    }

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Local
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Every usage-limit text codex 0.171.0 printed, measured against a stand-in.
    const MEASURED: &[&str] = &[
        "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 10:51 PM.",
        "You’ve hit your usage limit. Upgrade to Plus to continue using Codex (https://chatgpt.com/explore/plus), or try again at 10:51 PM.",
        "You’ve hit your usage limit. Visit https://chatgpt.com/settings/usage to purchase more credits or try again at 10:51 PM.",
        "You’ve hit your usage limit. To get more access now, send a request to your admin or try again at 10:51 PM.",
        "You’ve hit your usage limit. Try again at 10:51 PM.",
        "You’ve hit your usage limit. Get more with Pro, or try again at 10:51 PM.",
        "You’ve hit your usage limit for GPT-5.3-Codex-Spark. Switch to another model now, or try again at 10:51 PM.",
        // Older builds: ASCII apostrophe, the /codex/ URL.
        "You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase more credits or try again at 10:51 PM.",
    ];

    #[test]
    fn every_measured_variant_is_a_limit_with_todays_reset() {
        for m in MEASURED {
            assert!(is_usage_limit(m), "{m}");
            // 10:51 PM printed: the reset is within 22:51:00..22:52:00.
            assert_eq!(
                reset(m, now()),
                Reset::At(local(2026, 12, 1, 22, 52)),
                "{m}"
            );
        }
    }

    #[test]
    fn another_day_has_a_date() {
        let m = "You’ve hit your usage limit. Try again at Dec 4th, 2026 10:41 PM.";
        assert_eq!(reset(m, now()), Reset::At(local(2026, 12, 4, 22, 42)));
        for (text, want) in [
            ("Jan 1st, 2027 12:05 AM", local(2027, 1, 1, 0, 6)),
            ("Dec 2nd, 2026 9:00 AM", local(2026, 12, 2, 9, 1)),
            ("Dec 3rd, 2026 12:30 PM", local(2026, 12, 3, 12, 31)),
            ("Dec 11th, 2026 1:00 PM", local(2026, 12, 11, 13, 1)),
        ] {
            let m = format!("You’ve hit your usage limit. Try again at {text}.");
            assert_eq!(reset(&m, now()), Reset::At(want), "{text}");
        }
    }

    #[test]
    fn later_is_unknown() {
        for m in [
            "You’ve hit your usage limit. Try again later.",
            "You’ve hit your usage limit. To get more access now, send a request to your admin or try again later.",
            "You’ve hit your usage limit. Try again at teatime.",
        ] {
            assert!(is_usage_limit(m));
            assert_eq!(reset(m, now()), Reset::Unknown, "{m}");
        }
    }

    #[test]
    fn durations_are_accepted_too() {
        let m = "You've hit your usage limit. Try again in 3 minutes.";
        assert_eq!(
            reset(m, now()),
            Reset::At((now() + Duration::seconds(180)).with_timezone(&Utc))
        );
        let m = "You've hit your usage limit, try again in 2 hours";
        assert_eq!(
            reset(m, now()),
            Reset::At((now() + Duration::hours(2)).with_timezone(&Utc))
        );
        let m = "You've hit your usage limit. Try again in 1 day.";
        assert_eq!(
            reset(m, now()),
            Reset::At((now() + Duration::days(1)).with_timezone(&Utc))
        );
    }

    #[test]
    fn refused_credentials_are_told_apart() {
        for m in [
            "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.",
            "unexpected status 401 Unauthorized: Missing bearer or basic authentication in header, url: http://127.0.0.1:1/v1/responses",
            "Reconnecting... 1/5 (unexpected status 401 Unauthorized: Missing bearer)",
            "{\"error\":{\"code\":\"refresh_token_reused\"}}",
        ] {
            assert!(is_auth_failure(m), "{m}");
        }
        for m in [
            "We’re currently experiencing high demand, which may cause temporary errors.",
            "You’ve hit your usage limit. Try again at 10:51 PM.",
            "exceeded retry limit, last status: 429 Too Many Requests",
        ] {
            assert!(!is_auth_failure(m), "{m}");
        }
    }

    #[test]
    fn failures_that_need_a_person_are_not_limits() {
        for m in [
            "Your workspace is out of credits. Add credits to continue.",
            "You hit your spend cap set in your workspace. Increase your spend cap to continue.",
            "To use Codex with your ChatGPT plan, upgrade to Plus: https://chatgpt.com/explore/plus.",
            "Quota exceeded. Check your plan and billing details.",
            "exceeded retry limit, last status: 429 Too Many Requests",
            "Reconnecting... 1/5 (stream error)",
        ] {
            assert!(!is_usage_limit(m), "{m}");
        }
    }
}
