//! Helpers for the pipeline unit tests: load a pipeline from a string.

use super::{Plan, load};
use crate::content::share::Share;

/// Loads `text` as `p.toml`; errors come back as their message with the temporary
/// directory removed.
pub(super) fn load_str(text: &str, vars: &[(&str, &str)]) -> Result<Plan, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    let vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load(&path, &vars, &Share::from_roots(vec![])).map_err(|e| {
        e.to_string()
            .replace(&format!("{}/", dir.path().display()), "")
    })
}

pub(super) fn err(text: &str, vars: &[(&str, &str)]) -> String {
    load_str(text, vars).unwrap_err()
}

pub(super) const TWO_STAGES: &str = r#"
[[stage]]
name = "a"
  [[stage.worker]]
  label = "r1"
  role = "reviewer"
  task = "one"
  [[stage.worker]]
  label = "r2"
  role = "reviewer"
  task = "two"
[[stage]]
name = "b"
  [[stage.worker]]
  label = "fix"
  role = "implementer"
  task = "fix using {{out:r1}}"
"#;

pub(super) const EACH: &str = r#"
[[stage]]
name = "a"
  [[stage.worker]]
  label = "part"
  each = "{{parts}}"
  role = "reviewer"
  cd = "{{item}}"
  task = "review {{item}} of {{items}}"
[[stage]]
name = "b"
  [[stage.worker]]
  label = "check"
  role = "verifier"
  task = """
reports:
{{out:part}}
first: {{out:part-1}}"""
"#;
