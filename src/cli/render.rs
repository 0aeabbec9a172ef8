//! Small helpers for what people read: durations, colour, tables.

use std::io::IsTerminal;

/// Colour only on a terminal and only when NO_COLOR is unset (https://no-color.org).
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn state_color(state: crate::model::State) -> &'static str {
    use crate::model::State::*;
    match state {
        Done => "32",
        Failed | Lost | Corrupt => "31",
        Stopped | Skipped | Incomplete => "33",
        Running | Starting => "36",
        Paused => "35",
        Queued => "2",
    }
}

/// Left-aligned columns; the last column is not padded. Widths count characters.
pub fn table(rows: &[Vec<String>], painted: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (r, p) in rows.iter().zip(painted) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let shown = p.get(i).unwrap_or(c);
            line.push_str(shown);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub use crate::model::text::tokens_short;
