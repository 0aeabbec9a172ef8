use super::super::severity::Severity;
use super::*;

fn one(text: &str) -> RawFinding {
    let p = parse_message(text);
    assert_eq!(p.findings.len(), 1, "{text:?} gave {:#?}", p.findings);
    p.findings.into_iter().next().unwrap()
}

fn sev(text: &str) -> (Severity, bool) {
    let f = one(text);
    (f.severity, f.severity_assumed)
}

#[test]
fn template_form() {
    let f = one(
        "- [high] src/a.rs:42-50 — token is never checked for expiry\n  Evidence: `verify()` skips `exp`\n",
    );
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.location.unwrap().to_string(), "src/a.rs:42-50");
    assert_eq!(f.claim, "token is never checked for expiry");
    assert_eq!(f.evidence.as_deref(), Some("`verify()` skips `exp`"));
}

#[test]
fn call_parentheses_stay_in_the_claim() {
    let f = one("- [high] src/a.rs:10 — parse() unwraps user input\n");
    assert_eq!(f.claim, "parse() unwraps user input");
    let f = one("- [high] parse() unwraps user input (src/a.rs:10)\n");
    assert_eq!(f.claim, "parse() unwraps user input");
}

#[test]
fn a_summary_line_right_after_the_list_is_not_part_of_the_last_finding() {
    let p = parse_message(
        "- [high] src/a.rs:10 — parse panics\n  Evidence: unwrap() at line 10\n\
             - [low] src/b.rs:3 — bad name\nSummary: one real bug.\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    assert_eq!(
        p.findings[0].evidence.as_deref(),
        Some("unwrap() at line 10")
    );
    assert_eq!(p.findings[1].claim, "bad name");
    assert_eq!(p.findings[1].evidence, None);
    assert_eq!(p.note, "Summary: one real bug.");
}

#[test]
fn key_lines() {
    let f = one(
        "- Severity: high\n  Location: src/a.rs:42\n  Claim: token is never checked\n  Evidence: see verify()\n",
    );
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.location.unwrap().to_string(), "src/a.rs:42");
    assert_eq!(f.claim, "token is never checked");
    assert_eq!(f.evidence.as_deref(), Some("see verify()"));
}

#[test]
fn severity_styles() {
    let cases = [
        ("- [high] src/a.rs:1 x claim", Severity::High),
        ("1. **High** `src/a.rs:1` — x claim", Severity::High),
        ("1. **High:** x claim in src/a.rs", Severity::High),
        ("- High: x claim in src/a.rs", Severity::High),
        ("- x claim (severity: low) src/a.rs:3", Severity::Low),
        (
            "- Severity: critical — x claim src/a.rs:3",
            Severity::Critical,
        ),
        ("- P0 src/a.rs:3 x claim", Severity::Critical),
        ("- **[P2]** src/a.rs:3 x claim", Severity::Medium),
        ("- P3: x claim src/a.rs:3", Severity::Low),
        ("- 🔴 src/a.rs:3 x claim", Severity::High),
        ("- 🟢 Low: src/a.rs:3 x claim", Severity::Low),
        ("- [nit] src/a.rs:3 x claim", Severity::Info),
        ("- [blocker] src/a.rs:3 x claim", Severity::Critical),
        ("- [major] src/a.rs:3 x claim", Severity::High),
        ("- [minor] src/a.rs:3 x claim", Severity::Low),
        ("- Missing check (High) src/a.rs:3", Severity::High),
    ];
    for (text, want) in cases {
        assert_eq!(sev(text), (want, false), "{text}");
    }
}

#[test]
fn severity_absent_is_assumed_medium() {
    assert_eq!(sev("- src/a.rs:3 the claim"), (Severity::Medium, true));
    let f = one("- [whatever] src/a.rs:3 the claim");
    assert!(f.severity_assumed);
}

#[test]
fn location_styles_in_items() {
    let cases = [
        ("- [high] src/a.rs:42 c", "src/a.rs:42"),
        ("- [high] src/a.rs:10-12 c", "src/a.rs:10-12"),
        ("- [high] src/a.rs#L10 c", "src/a.rs:10"),
        ("- [high] src/a.rs#L10-L12 c", "src/a.rs:10-12"),
        ("- [high] `src/a.rs` line 42: c", "src/a.rs:42"),
        ("- [high] lines 10–12 of src/a.rs: c", "src/a.rs:10-12"),
    ];
    for (text, want) in cases {
        let f = one(text);
        assert_eq!(f.location.unwrap().to_string(), want, "{text}");
        assert_eq!(f.claim, "c", "{text}");
    }
    let f = one("- [low] No rate limiting on the login endpoint");
    assert_eq!(f.location, None);
    assert_eq!(f.claim, "No rate limiting on the login endpoint");
}

#[test]
fn nested_bullets_belong_to_parent() {
    let p = parse_message(
        "1. **High** — `src/a.rs:42` unwrap on user input\n   - panics on empty body\n   - Fix: return 400\n2. **Low** — `src/b.rs:9` typo in error\n",
    );
    assert_eq!(p.findings.len(), 2);
    assert_eq!(
        p.findings[0].evidence.as_deref(),
        Some("panics on empty body")
    );
    assert_eq!(p.findings[0].fix.as_deref(), Some("return 400"));
}

#[test]
fn heading_per_finding() {
    let p = parse_message(
        "Intro text.\n\n### 1. Unchecked unwrap in parser\n**Severity:** High\n**Location:** `src/p.rs:10-12`\n\nThe parser unwraps.\n\n### 2. Slow loop\nSeverity: low\nIn src/q.rs:5.\n\n## Summary\nAll fine otherwise.\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    assert_eq!(p.findings[0].claim, "Unchecked unwrap in parser");
    assert_eq!(p.findings[0].severity, Severity::High);
    assert_eq!(
        p.findings[0].location.as_ref().unwrap().to_string(),
        "src/p.rs:10-12"
    );
    assert_eq!(
        p.findings[1].location.as_ref().unwrap().to_string(),
        "src/q.rs:5"
    );
    assert!(p.note.contains("Intro text."));
    assert!(p.note.contains("All fine otherwise."));
}

#[test]
fn severity_and_file_headings_give_context() {
    let p = parse_message(
        "## High\n\n### src/a.rs\n- line 42: token unchecked\n- line 90: secret logged\n\n## Low\n- `src/b.rs:3` typo\n",
    );
    assert_eq!(p.findings.len(), 3, "{:#?}", p.findings);
    assert_eq!(p.findings[0].severity, Severity::High);
    assert_eq!(
        p.findings[1].location.as_ref().unwrap().to_string(),
        "src/a.rs:90"
    );
    assert_eq!(p.findings[2].severity, Severity::Low);
}

#[test]
fn summary_lists_are_notes() {
    let p = parse_message(
        "- [high] src/a.rs:1 real issue here\n\n## Summary\n- Overall solid work\n- Tests pass\n\nThanks!\n",
    );
    assert_eq!(p.findings.len(), 1);
    assert!(p.note.contains("Overall solid work"));
    assert!(p.note.contains("Thanks!"));
}

#[test]
fn no_findings_keeps_whole_text() {
    let text = "I looked around and everything is fine.\n\n- nothing to report\n";
    let p = parse_message(text);
    assert!(p.findings.is_empty());
    assert_eq!(p.note, text.trim());
}

#[test]
fn json_forms() {
    let j = r#"{"findings":[{"severity":"high","location":"src/a.rs:42","claim":"x","evidence":"y"},{"severity":"P3","location":{"path":"b.rs","start_line":3,"end_line":5},"claim":"z"}],"summary":"ok"}"#;
    let p = parse_message(j);
    assert_eq!(p.findings.len(), 2);
    assert_eq!(p.findings[0].severity, Severity::High);
    assert_eq!(p.findings[1].severity, Severity::Low);
    assert_eq!(
        p.findings[1].location.as_ref().unwrap().to_string(),
        "b.rs:3-5"
    );
    assert_eq!(p.note, "summary: ok");
    let fenced = format!("```json\n{j}\n```\n");
    assert_eq!(parse_message(&fenced).findings.len(), 2);
}

#[test]
fn tables_of_findings() {
    let p = parse_message(
        "Findings:\n\n| # | Severity | Location | Issue | Fix |\n|---|---|---|---|---|\n| 1 | High | `src/a.rs:42` | token unchecked | check `exp` |\n| 2 | P3 | src/b.rs:7 | a \\| b typo | - |\n\nDone.\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    assert_eq!(p.findings[0].severity, Severity::High);
    assert_eq!(p.findings[0].claim, "token unchecked");
    assert_eq!(p.findings[0].fix.as_deref(), Some("check `exp`"));
    assert_eq!(p.findings[1].severity, Severity::Low);
    assert_eq!(p.findings[1].claim, "a | b typo");
    assert!(p.note.contains("Done."));
    let plain = "| a | b |\n|---|---|\n| 1 | 2 |\n";
    assert!(parse_message(plain).findings.is_empty());
}

#[test]
fn fenced_code_in_item_stays_in_item() {
    let p = parse_message(
        "- [high] src/a.rs:1 bad thing\n  ```rust\n- not an item\n  ```\n- [low] src/b.rs:2 other thing\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
}

#[test]
fn codex_review_json() {
    let j = r#"{"findings":[{"title":"[P1] Evict first","body":"grows past capacity","confidence_score":0.8,"priority":1,"code_location":{"absolute_file_path":"/repo/src/lru.rs","line_range":{"start":88,"end":95}}}],"overall_correctness":"patch is incorrect"}"#;
    let p = parse_message(j);
    assert_eq!(p.findings.len(), 1);
    let f = &p.findings[0];
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.severity_raw.as_deref(), Some("P1"));
    assert_eq!(f.claim, "Evict first");
    assert_eq!(f.evidence.as_deref(), Some("grows past capacity"));
    assert_eq!(
        f.location.as_ref().unwrap().to_string(),
        "/repo/src/lru.rs:88-95"
    );
    assert!(p.note.contains("overall_correctness: patch is incorrect"));
}

#[test]
fn section_and_emoji_headings_are_containers() {
    let p = parse_message(
        "### 💡 Codex Review\n\nSome intro.\n\n## 🔴 Blockers\n\n- `a.sh:14` — wipes root\n\n## 🟢 Nits\n\n- `a.sh:1` — no pipefail\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    assert_eq!(p.findings[0].severity, Severity::Critical);
    assert_eq!(p.findings[1].severity, Severity::Info);
    assert!(p.note.contains("Some intro."));
}

#[test]
fn headings_naming_file_and_line_are_findings() {
    let p = parse_message(
        "### app/views.py (41-47)\n\nEach post triggers a query (N+1).\n\n### app/views.py (30)\n\n[nitpick] Raises 500 for an unknown user.\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    assert_eq!(
        p.findings[0].location.as_ref().unwrap().to_string(),
        "app/views.py:41-47"
    );
    assert_eq!(p.findings[0].claim, "Each post triggers a query (N+1).");
    assert_eq!(p.findings[1].severity, Severity::Info);
}

#[test]
fn plain_bullets_are_findings_when_nothing_else_is() {
    let p = parse_message(
        "Quick pass:\n\n- the cleanup can delete everything\n- the loop never ends\n",
    );
    assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    assert!(p.findings.iter().all(|f| f.severity_assumed));
}

#[test]
fn a_severity_key_line_may_carry_the_claim() {
    let p = parse_message(
        "### OrderDao.java (64)\n\n**Severity: critical.** The search concatenates `status` into the WHERE clause.\n",
    );
    assert_eq!(p.findings.len(), 1, "{:#?}", p);
    assert_eq!(p.findings[0].severity, Severity::Critical);
    assert_eq!(
        p.findings[0].claim,
        "The search concatenates `status` into the WHERE clause."
    );
}

#[test]
fn a_marker_after_the_place_is_the_severity() {
    let p = parse_message(
        "**`src/S.tsx:48`** — 🔴 Critical\nThe snippet is rendered unescaped: reflected XSS.\n",
    );
    assert_eq!(p.findings.len(), 1, "{:#?}", p);
    assert_eq!(p.findings[0].severity, Severity::Critical, "{:#?}", p);
    assert!(p.findings[0].claim.contains("reflected XSS"), "{:#?}", p);
}
