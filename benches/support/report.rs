//! What the benches share for writing their figures: one `## ` section of
//! BENCHMARKS.md replaced in place, and a shell command's output for the machine line.

use std::process::Command;

/// `doc` with the section headed `heading` (up to the next `## ` heading) replaced by
/// `section`, or with `section` appended when there is none yet.
pub fn replace_section(doc: &str, heading: &str, section: &str) -> String {
    let Some(start) = doc.find(&format!("{heading}\n")) else {
        if doc.trim().is_empty() {
            return format!("# Benchmarks\n\n{section}");
        }
        return format!("{}\n\n{section}", doc.trim_end());
    };
    let after = start + heading.len();
    let end = doc[after..]
        .find("\n## ")
        .map_or(doc.len(), |i| after + i + 1);
    let tail = &doc[end..];
    format!(
        "{}{}{}",
        &doc[..start],
        section,
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n{tail}")
        }
    )
}

/// What `sh -c cmd` prints, trimmed (empty when it cannot run).
pub fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
