//! Drawing the dashboard from the model: the run line, the worker table, the preview
//! of the selected worker, the prompt or message line, the footer and the `?` help.
//! Nothing here reads the disk or runs a process, so a frame costs only its drawing.
//!
//! Without colour (NO_COLOR, or a monochrome terminal) everything that matters is
//! still there: the selection is reverse video, headers are bold, states and flags
//! are words.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::keys::KEYS;
use super::model::{InputKind, Mode, Model, Scope};
use crate::lifecycle::state::State;
use crate::model::text;

/// Wide enough for the table and the preview side by side; narrower, the preview goes
/// below the table.
const SIDE_BY_SIDE: u16 = 110;

pub fn draw(f: &mut Frame, m: &Model) {
    let area = f.area();
    let [head, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(head_line(m)), head);
    let (list, preview) = if area.width >= SIDE_BY_SIDE {
        let [a, b] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(body);
        (a, b)
    } else {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(body);
        (a, b)
    };
    draw_table(f, m, list);
    draw_preview(f, m, preview);
    f.render_widget(Paragraph::new(message_line(m)), message);
    f.render_widget(Paragraph::new(footer_line(m)), footer);
    if m.mode == Mode::Help {
        draw_help(f, m, area);
    }
}

fn fg(m: &Model, c: Color) -> Style {
    if m.color {
        Style::default().fg(c)
    } else {
        Style::default()
    }
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn state_color(s: State) -> Color {
    match s {
        State::Done => Color::Green,
        State::Failed | State::Lost | State::Corrupt => Color::Red,
        State::Stopped | State::Skipped | State::Incomplete => Color::Yellow,
        State::Running | State::Starting => Color::Cyan,
        State::Paused => Color::Magenta,
        State::Queued => Color::DarkGray,
    }
}

fn head_line(m: &Model) -> Line<'static> {
    let text = match &m.scope {
        Scope::Run(_) => m.runs.first().map(|r| r.text.clone()).unwrap_or_default(),
        Scope::All => {
            let runs: Vec<&str> = m.runs.iter().map(|r| r.id.as_str()).collect();
            if runs.is_empty() {
                "no active runs".to_string()
            } else {
                format!(
                    "{} · {}: {}",
                    text::count(m.rows.len(), "worker"),
                    text::count(runs.len(), "active run"),
                    runs.join(", ")
                )
            }
        }
    };
    let order = match m.order {
        super::model::Order::Spawn => "",
        super::model::Order::Attention => " · attention first",
    };
    let filter = if m.filter.is_empty() {
        String::new()
    } else {
        format!(" · filter: {}", m.filter)
    };
    // What changes the rows shown comes first: a long run line is cut on the right.
    let shown = format!("{order}{filter}");
    let mut spans = Vec::new();
    if !shown.is_empty() {
        spans.push(Span::styled(
            format!("[{}] ", shown.trim_start_matches(" · ")),
            Style::default().add_modifier(Modifier::REVERSED),
        ));
    }
    spans.push(Span::styled(text, bold()));
    Line::from(spans)
}

/// Elapsed, ticking for live workers without a new look at the disk.
fn elapsed(v: &crate::lifecycle::state::WorkerView) -> String {
    let live = matches!(v.state, State::Running | State::Starting | State::Paused);
    let secs = match (live, v.started_at, v.finished_at) {
        (true, Some(start), None) => Some((chrono::Utc::now() - start).num_seconds().max(0)),
        _ => v.elapsed_secs,
    };
    secs.map(text::duration).unwrap_or_else(|| "-".into())
}

fn draw_table(f: &mut Frame, m: &Model, area: Rect) {
    let all = m.scope == Scope::All;
    let visible = m.visible();
    let mut header = vec![
        "LABEL", "ROLE", "STATE", "FLAGS", "ELAPSED", "TOKENS", "COST",
    ];
    if all {
        header.insert(0, "RUN");
    }
    let mut cells: Vec<Vec<(String, Style)>> = Vec::with_capacity(visible.len());
    for r in &visible {
        let v = &r.view;
        let role = match (&v.role, &v.lens) {
            (Some(r), Some(l)) => format!("{r}:{l}"),
            (Some(r), None) => r.clone(),
            (None, Some(l)) => l.clone(),
            (None, None) => "-".into(),
        };
        let state = if v.landed.is_some() {
            "landed".to_string()
        } else {
            v.state.to_string()
        };
        let flags = r.flags().join(",");
        let tokens = if v.tokens.total() > 0 {
            text::tokens_short(v.tokens.total())
        } else {
            "-".into()
        };
        let cost = match v.cost_usd {
            Some(c) if v.tokens.total() > 0 => crate::lifecycle::budget::usd(c),
            None if v.tokens.total() > 0 => "unpriced".into(),
            _ => "-".into(),
        };
        let flag_style = if flags.is_empty() {
            Style::default()
        } else {
            fg(m, Color::Yellow).add_modifier(Modifier::BOLD)
        };
        let mut row = vec![
            (v.label.clone(), Style::default()),
            (role, Style::default()),
            (state, fg(m, state_color(v.state))),
            (flags, flag_style),
            (elapsed(v), Style::default()),
            (tokens, Style::default()),
            (cost, Style::default()),
        ];
        if all {
            row.insert(0, (r.run.clone(), Style::default()));
        }
        cells.push(row);
    }
    let widths: Vec<Constraint> = (0..header.len())
        .map(|i| {
            let w = cells
                .iter()
                .map(|r| r[i].0.chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0);
            Constraint::Length(w as u16)
        })
        .collect();
    let rows: Vec<Row> = cells
        .into_iter()
        .map(|r| Row::new(r.into_iter().map(|(t, s)| Cell::from(t).style(s))))
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(bold()))
        .column_spacing(2)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(m.selected_index());
    f.render_stateful_widget(table, area, &mut state);
    if empty {
        let why = if m.filter.is_empty() {
            "no workers yet"
        } else {
            "no worker matches the filter (f to change it, Esc in it to clear)"
        };
        let y = area
            .y
            .saturating_add(1)
            .min(area.bottom().saturating_sub(1));
        f.render_widget(
            Paragraph::new(why),
            Rect {
                y,
                height: 1,
                ..area
            },
        );
    }
}

fn draw_preview(f: &mut Frame, m: &Model, area: Rect) {
    let p = &m.preview;
    let title = match m.selected_row() {
        Some(r) => format!(" {} · {} · {} ", r.address(), r.view.state, p.title),
        None => " preview ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, bold()));
    let inner = block.inner(area);
    let height = inner.height as usize;
    let para = if p.from_end {
        // The newest line at the bottom; scrolling goes back in time.
        let end = p.lines.len().saturating_sub(m.scroll);
        let start = end.saturating_sub(height);
        Paragraph::new(
            p.lines[start..end]
                .iter()
                .map(|l| Line::raw(l.clone()))
                .collect::<Vec<_>>(),
        )
    } else {
        Paragraph::new(
            p.lines
                .iter()
                .map(|l| Line::raw(l.clone()))
                .collect::<Vec<_>>(),
        )
        .wrap(Wrap { trim: false })
        .scroll((m.scroll.min(u16::MAX as usize) as u16, 0))
    };
    f.render_widget(para.block(block), area);
}

fn message_line(m: &Model) -> Line<'static> {
    match &m.mode {
        Mode::Input(i) => {
            let target = i.target.as_deref().unwrap_or("?");
            let label = match i.kind {
                InputKind::Filter => "filter: ".to_string(),
                InputKind::Send => format!("send to {target}: "),
                InputKind::Resume => format!("resume {target} with (empty: continue): "),
            };
            Line::from(vec![
                Span::styled(label, bold()),
                Span::raw(format!("{}█", i.text)),
                Span::raw("   Enter ok · Esc cancel"),
            ])
        }
        Mode::ConfirmStop(a) => Line::from(Span::styled(
            format!("stop {a}? y/n"),
            bold().add_modifier(Modifier::REVERSED),
        )),
        _ => Line::raw(m.message.clone().unwrap_or_default()),
    }
}

fn footer_line(m: &Model) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, what, _) in KEYS {
        spans.push(Span::styled(
            key.to_string(),
            bold().patch(fg(m, Color::Cyan)),
        ));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(spans)
}

fn draw_help(f: &mut Frame, m: &Model, area: Rect) {
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(_, _, long)| Line::raw(format!(" {long}")))
        .chain([
            Line::raw(""),
            Line::raw(" Rows redraw when the workers' files change. Any key closes this."),
        ])
        .collect();
    let w = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
    let h = lines.len() as u16 + 2;
    let rect = Rect {
        x: area.x + area.width.saturating_sub(w) / 2,
        y: area.y + area.height.saturating_sub(h) / 2,
        width: w.min(area.width),
        height: h.min(area.height),
    };
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" keys ", bold().patch(fg(m, Color::Cyan)))),
        ),
        rect,
    );
}
