//! Cuts a markdown message into items (list items and heading-per-finding blocks,
//! each with its body) and free text, keeping the heading context of each item.

use super::super::severity::Severity;
use super::heading::*;
use super::markers::*;

#[derive(Debug)]
pub(super) struct Item {
    pub(super) head: String,
    pub(super) body: Vec<String>,
    pub(super) ctx: Ctx,
    pub(super) list_id: Option<usize>,
    /// The raw lines, for the note when the item turns out not to be a finding.
    pub(super) raw: Vec<String>,
}

#[derive(Debug)]
pub(super) enum Block {
    Item(Item),
    Text(String),
}

pub(super) struct Open {
    pub(super) item: Item,
    /// `Some(level)` for a heading item, `None` for a list item.
    pub(super) heading_level: Option<usize>,
    pub(super) base_indent: usize,
    pub(super) prev_blank: bool,
    pub(super) in_fence: bool,
}

pub(super) fn segment(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    let mut stack: Vec<(usize, HeadingKind)> = Vec::new();
    let mut list_id = 0usize;
    let mut last_was_item = false;
    let mut text_fence = false;

    let ctx_of = |stack: &[(usize, HeadingKind)]| {
        let mut ctx = Ctx::default();
        for (_, k) in stack {
            match k {
                HeadingKind::Severity(s, raw) => ctx.severity = Some((*s, raw.clone())),
                HeadingKind::Path(p) => ctx.path = Some(p.clone()),
                HeadingKind::Section(s) => ctx.section = Some(*s),
                HeadingKind::Finding => {}
            }
        }
        ctx
    };
    let close = |open: &mut Option<Open>, blocks: &mut Vec<Block>| {
        if let Some(o) = open.take() {
            blocks.push(Block::Item(o.item));
        }
    };

    for line in text.lines() {
        if text_fence {
            blocks.push(Block::Text(line.to_string()));
            text_fence = !is_fence(line);
            continue;
        }
        if let Some(o) = open.as_mut()
            && o.in_fence
        {
            o.item.body.push(line.to_string());
            o.item.raw.push(line.to_string());
            o.in_fence = !is_fence(line);
            continue;
        }
        let blank = line.trim().is_empty();
        if blank {
            match open.as_mut() {
                Some(o) => {
                    o.prev_blank = true;
                    o.item.body.push(String::new());
                    o.item.raw.push(String::new());
                }
                None => blocks.push(Block::Text(String::new())),
            }
            continue;
        }
        let indent = indent_of(line);

        // Headings, and bold or `Label:` lines standing alone as pseudo-headings.
        let heading = if let Some(c) = HEADING.captures(line) {
            Some((c[1].len(), c[2].to_string()))
        } else if open
            .as_ref()
            .is_none_or(|o| o.heading_level.is_some() || o.prev_blank)
            && indent < 2
        {
            BOLD_LINE
                .captures(line)
                .or_else(|| LABEL_LINE.captures(line))
                .map(|c| (6, c[1].to_string()))
        } else {
            None
        };
        if let Some((level, title)) = heading {
            if let Some(o) = open.as_mut()
                && let Some(hl) = o.heading_level
                && level > hl
            {
                o.item.body.push(line.to_string());
                o.item.raw.push(line.to_string());
                continue;
            }
            close(&mut open, &mut blocks);
            last_was_item = false;
            let kind = classify_heading(level, &title);
            stack.retain(|(l, _)| *l < level);
            if let HeadingKind::Finding = kind {
                let head = NUMBERED_TITLE
                    .replace(&strip_decoration(&title), "")
                    .to_string();
                open = Some(Open {
                    item: Item {
                        head,
                        body: Vec::new(),
                        ctx: ctx_of(&stack),
                        list_id: None,
                        raw: vec![line.to_string()],
                    },
                    heading_level: Some(level),
                    base_indent: 0,
                    prev_blank: false,
                    in_fence: false,
                });
            } else {
                // A bare "## Findings" says nothing once its items are findings.
                if !matches!(kind, HeadingKind::Section(Section::Findings)) {
                    blocks.push(Block::Text(line.to_string()));
                }
                stack.push((level, kind));
            }
            continue;
        }

        // A line led by a traffic-light emoji is an item even without a list marker.
        let item_start = LIST
            .captures(line)
            .map(|c| (indent_of(&c[1]), c[3].to_string()))
            .or_else(|| {
                let t = line.trim_start();
                (indent < 2 && t.chars().next().and_then(Severity::from_emoji).is_some())
                    .then(|| (indent, t.to_string()))
            });
        if let Some((marker_indent, head)) = item_start {
            if let Some(o) = open.as_mut() {
                let nested = o.heading_level.is_some() || marker_indent > o.base_indent + 1;
                if nested {
                    o.item.body.push(line.to_string());
                    o.item.raw.push(line.to_string());
                    o.prev_blank = false;
                    continue;
                }
            }
            close(&mut open, &mut blocks);
            if !last_was_item {
                list_id += 1;
            }
            last_was_item = true;
            open = Some(Open {
                item: Item {
                    head,
                    body: Vec::new(),
                    ctx: ctx_of(&stack),
                    list_id: Some(list_id),
                    raw: vec![line.to_string()],
                },
                heading_level: None,
                base_indent: marker_indent,
                prev_blank: false,
                in_fence: false,
            });
            continue;
        }

        // The reviewer template ends its list with a `Summary:` line, often with no blank
        // line before it: that line is the verdict, not more of the last finding.
        let ends_list = open.as_ref().is_some_and(|o| {
            o.heading_level.is_none() && indent <= o.base_indent && SUMMARY_LINE.is_match(line)
        });
        if let Some(o) = open.as_mut()
            && !ends_list
            && (o.heading_level.is_some() || indent > o.base_indent || !o.prev_blank)
        {
            o.item.body.push(line.to_string());
            o.item.raw.push(line.to_string());
            o.prev_blank = false;
            o.in_fence = is_fence(line);
            continue;
        }
        close(&mut open, &mut blocks);
        last_was_item = false;
        blocks.push(Block::Text(line.to_string()));
        text_fence = is_fence(line);
    }
    close(&mut open, &mut blocks);
    blocks
}
