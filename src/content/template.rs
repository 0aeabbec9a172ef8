//! The one template engine for orch's user-editable text. Every `{{…}}` tag in a worker
//! template, a pipeline field or a rendered prompt is found by one scanner ([`tags`]),
//! and every placeholder orch knows is listed here:
//!
//! - worker templates (`templates/<role>.md`): [`PLACEHOLDERS`] as `{{name}}`, and
//!   `{{#name}}…{{/name}}` sections kept only when `name` is non-empty ([`check`],
//!   [`render`]);
//! - pipeline fields: `{{var}}` for any variable name ([`is_var_name`]), and in a worker
//!   with `each`, `{{item}}` and `{{items}}` ([`ITEM`], [`ITEMS`]; see [`substitute`]);
//! - everywhere: `{{out:LABEL}}` ([`OUT`]), the path of a worker's final message, filled
//!   in when the worker starts ([`fill_outputs`]).
//!
//! A tag is `{{`, then everything up to the next `}}`; its name is that text trimmed.
//! A `{{` with no `}}` after it is plain text, and so is every tag a step does not know:
//! values are inserted verbatim and never re-expanded.

/// The placeholders a worker template may use; `{{#name}}…{{/name}}` keeps its body only
/// when `name` is non-empty. `writable` and `read_only` are non-empty by the sandbox,
/// for `{{#writable}}…{{/writable}}` and `{{#read_only}}…{{/read_only}}`.
pub const PLACEHOLDERS: &[&str] = &[
    "task",
    "lens_name",
    "lens",
    "context",
    "sandbox",
    "writable",
    "read_only",
];

/// The tag an `each` worker defines for its own item...
pub const ITEM: &str = "item";
/// ...and for the whole list, comma-separated.
pub const ITEMS: &str = "items";

/// The prefix of a reference to another worker's final message, `{{out:LABEL}}`.
pub const OUT: &str = "out:";

/// A lens: a short focus text that narrows what a worker looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lens {
    pub name: String,
    pub text: String,
}

/// The values a worker template is rendered with, one per [`PLACEHOLDERS`] entry.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    pub task: String,
    pub lens: Option<Lens>,
    pub context: Option<String>,
    pub sandbox: crate::model::Sandbox,
}

impl Prompt {
    /// The value of a placeholder, or `None` for a tag that is not one.
    fn value(&self, name: &str) -> Option<String> {
        match name {
            "task" => Some(self.task.trim().to_string()),
            "lens_name" => Some(
                self.lens
                    .as_ref()
                    .map(|l| l.name.clone())
                    .unwrap_or_default(),
            ),
            "lens" => Some(
                self.lens
                    .as_ref()
                    .map(|l| l.text.trim().to_string())
                    .unwrap_or_default(),
            ),
            "context" => Some(self.context.as_deref().unwrap_or("").trim().to_string()),
            "sandbox" => Some(self.sandbox.as_str().to_string()),
            "writable" => Some(if self.sandbox.writes() { "yes" } else { "" }.into()),
            "read_only" => Some(if self.sandbox.writes() { "" } else { "yes" }.into()),
            _ => None,
        }
    }
}

/// One `{{…}}` tag: where it is and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The byte offset of the opening `{{`.
    pub start: usize,
    /// The byte offset just past the closing `}}`.
    pub end: usize,
    /// The text between the braces, trimmed.
    pub name: &'a str,
}

impl<'a> Tag<'a> {
    /// The variable this tag names (`{{target}}`, also `{{item}}`), if it names one.
    pub fn var(&self) -> Option<&'a str> {
        is_var_name(self.name).then_some(self.name)
    }

    /// The label of an `{{out:LABEL}}` tag, trimmed (possibly empty) as written.
    pub fn out_label(&self) -> Option<&'a str> {
        self.name.strip_prefix(OUT).map(str::trim)
    }
}

/// The scanner: the first tag at or after byte `from`.
fn next_tag(text: &str, from: usize) -> Option<Tag<'_>> {
    let start = from + text[from..].find("{{")?;
    let end = start + 2 + text[start + 2..].find("}}")? + 2;
    Some(Tag {
        start,
        end,
        name: text[start + 2..end - 2].trim(),
    })
}

/// Every tag in `text`, in order.
pub fn tags(text: &str) -> impl Iterator<Item = Tag<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let tag = next_tag(text, at)?;
        at = tag.end;
        Some(tag)
    })
}

/// Whether `name` can be a pipeline variable: a letter or `_`, then letters, digits, `_`
/// and `-`.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Refuses unknown placeholders and unbalanced sections in a worker template, so a typo
/// in a user's template fails at load time instead of reaching a worker as literal
/// braces.
pub fn check(text: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    for tag in tags(text) {
        let (kind, name) = match tag.name.chars().next() {
            Some(c @ ('#' | '/')) => (Some(c), tag.name[1..].trim()),
            _ => (None, tag.name),
        };
        // `{{out:label}}` is filled in when the worker starts.
        if name.starts_with(OUT) && kind.is_none() {
            continue;
        }
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder `{{{{{}}}}}`; known: {}",
                tag.name,
                PLACEHOLDERS.join(", ")
            ));
        }
        match kind {
            Some('#') => open.push(name),
            Some(_) if open.pop() != Some(name) => {
                return Err(format!(
                    "`{{{{/{name}}}}}` closes a section that is not open"
                ));
            }
            _ => {}
        }
    }
    match open.last() {
        Some(name) => Err(format!("section `{{{{#{name}}}}}` is never closed")),
        None => Ok(()),
    }
}

/// Renders a worker template: `{{name}}` becomes the value, `{{#name}}…{{/name}}` keeps
/// its body only when the value is non-empty. A tag alone on its line takes its line
/// break with it, so omitted sections leave no blank lines. Unknown tags (such as
/// `{{out:label}}`) are left as they are. Values are inserted verbatim, never re-expanded.
pub fn render(template: &str, vars: &Prompt) -> String {
    let mut out = String::with_capacity(template.len() + vars.task.len());
    render_into(template, vars, &mut out);
    out
}

fn render_into(text: &str, vars: &Prompt, out: &mut String) {
    let mut at = 0;
    while let Some(tag) = next_tag(text, at) {
        out.push_str(&text[at..tag.start]);
        at = tag.end;
        if let Some(name) = tag.name.strip_prefix('#').map(str::trim) {
            let body_start = skip_newline(text, tag.end);
            let close = format!("{{{{/{name}}}}}");
            let Some(close_at) = text[body_start..].find(&close).map(|i| body_start + i) else {
                // Unbalanced: `check` refuses these; render keeps the text.
                out.push_str(&text[tag.start..tag.end]);
                continue;
            };
            if vars.value(name).is_some_and(|v| !v.is_empty()) {
                render_into(&text[body_start..close_at], vars, out);
            }
            at = skip_newline(text, close_at + close.len());
        } else if let Some(v) = vars.value(tag.name) {
            out.push_str(&v);
        } else {
            out.push_str(&text[tag.start..tag.end]);
        }
    }
    out.push_str(&text[at..]);
}

fn skip_newline(text: &str, at: usize) -> usize {
    if text[at..].starts_with('\n') {
        at + 1
    } else {
        at
    }
}

/// Replaces each tag for which `value` gives a text with that text, verbatim; every other
/// tag stays as written. The first error `value` returns stops the substitution.
pub fn substitute<'v, E>(
    text: &str,
    mut value: impl FnMut(&Tag<'_>) -> Result<Option<&'v str>, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for tag in tags(text) {
        if let Some(v) = value(&tag)? {
            out.push_str(&text[at..tag.start]);
            out.push_str(v);
            at = tag.end;
        }
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// Replaces each `{{out:LABEL}}` in a rendered prompt with `path_of(LABEL)` — typically
/// the path of that worker's final-message file, known once the run exists.
pub fn fill_outputs(prompt: &str, path_of: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(prompt.len());
    let mut at = 0;
    for tag in tags(prompt) {
        if let Some((start, label)) = output_reference(prompt, &tag) {
            out.push_str(&prompt[at..start]);
            out.push_str(&path_of(label));
            at = tag.end;
        }
    }
    out.push_str(&prompt[at..]);
    out
}

/// The `{{out:LABEL}}` reference a tag ends with, and where it starts. The label must be
/// one word (no white space, no `}`). A prompt carries text orch did not write (context
/// packs, tasks), so a stray `{{` earlier in the tag does not hide the reference: each
/// `{{` inside the tag is tried as its start, leftmost first.
fn output_reference<'a>(text: &'a str, tag: &Tag<'_>) -> Option<(usize, &'a str)> {
    let body_end = tag.end - 2;
    let mut start = tag.start;
    loop {
        let label = text[start + 2..body_end]
            .trim_start()
            .strip_prefix(OUT)
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains(|c: char| c == '}' || c.is_whitespace()));
        if let Some(label) = label {
            return Some((start, label));
        }
        start = start + 1 + text[start + 1..body_end].find("{{")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sandbox;

    fn prompt(lens: Option<Lens>, context: Option<&str>) -> Prompt {
        Prompt {
            task: "Review src/a.rs.".into(),
            lens,
            context: context.map(String::from),
            sandbox: Sandbox::ReadOnly,
        }
    }

    #[test]
    fn render_omits_empty_sections_cleanly() {
        let t = "A\n{{#lens}}\nLENS: {{lens_name}}\n{{lens}}\n\n{{/lens}}\n{{#context}}\nCTX:\n{{context}}\n\n{{/context}}\nTASK: {{task}} ({{sandbox}})\n";
        assert_eq!(
            render(t, &prompt(None, None)),
            "A\nTASK: Review src/a.rs. (read-only)\n"
        );
        let lens = Lens {
            name: "tests".into(),
            text: "Gaps.".into(),
        };
        assert_eq!(
            render(t, &prompt(Some(lens), Some("## Goal\nx\n"))),
            "A\nLENS: tests\nGaps.\n\nCTX:\n## Goal\nx\n\nTASK: Review src/a.rs. (read-only)\n"
        );
    }

    #[test]
    fn render_does_not_reexpand_values_and_keeps_unknown_tags() {
        let mut p = prompt(None, None);
        p.task = "say {{sandbox}}; read {{out:scout}}".into();
        assert_eq!(
            render("{{task}}", &p),
            "say {{sandbox}}; read {{out:scout}}"
        );
    }

    #[test]
    fn check_template_catches_typos() {
        assert!(check("{{task}} {{#lens}}{{lens}}{{/lens}} {{out:x}}").is_ok());
        assert!(check("{{tsak}}").unwrap_err().contains("tsak"));
        assert!(check("{{#lens}}x").unwrap_err().contains("never closed"));
        assert!(check("{{/lens}}").is_err());
    }

    #[test]
    fn fill_outputs_replaces_references() {
        let filled = fill_outputs("read {{out:r1}} and {{ out:r2 }}.", |l| {
            format!("/runs/x/{l}.md")
        });
        assert_eq!(filled, "read /runs/x/r1.md and /runs/x/r2.md.");
    }

    #[test]
    fn fill_outputs_finds_a_reference_after_stray_braces() {
        let path = |l: &str| format!("<{l}>");
        // A context pack quoting `format!("{{")` must not swallow the task's reference.
        assert_eq!(
            fill_outputs("pack: format!(\"{{\")\ntask: read {{out:r1}}.", path),
            "pack: format!(\"{{\")\ntask: read <r1>."
        );
        assert_eq!(fill_outputs("{{{out:a}}}", path), "{<a>}");
        // Not one word: left as written.
        for kept in ["{{out:}}", "{{out:a b}}", "{{out:a}b}}", "{{ put:a }}"] {
            assert_eq!(fill_outputs(kept, path), kept);
        }
    }

    #[test]
    fn substitute_replaces_only_what_it_is_given() {
        let out = substitute("{{a}} {{ b }} {{out:c}} {{a", |t| {
            Ok::<_, ()>(t.var().map(|n| if n == "a" { "1" } else { "2" }))
        });
        assert_eq!(out.unwrap(), "1 2 {{out:c}} {{a");
        let err = substitute("x {{bad}}", |t| Err::<Option<&str>, _>(t.start));
        assert_eq!(err.unwrap_err(), 2);
    }
}
