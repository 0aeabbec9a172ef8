//! The dashboard's state: the rows read from disk, the selection, the order, the
//! filter, the open prompt and the preview. The view draws only from this; keys and
//! file changes only change this.

use crate::lifecycle::state::{State, WorkerView};
use crate::ops::status::RunStatus;

/// Which workers are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Run(String),
    /// Every active run (`--all`).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Spawn,
    Attention,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Send,
    Resume,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
    /// For Send and Resume: the worker the prompt was opened on.
    pub target: Option<String>,
}

impl Input {
    pub fn new(kind: InputKind) -> Input {
        Input {
            kind,
            text: String::new(),
            target: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// Asking y/n before stopping this worker (RUN/LABEL).
    ConfirmStop(String),
    Input(Input),
}

/// One worker's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub run: String,
    pub view: WorkerView,
}

impl Row {
    pub fn address(&self) -> String {
        format!("{}/{}", self.run, self.view.label)
    }

    /// The attention flags: what a person should look at.
    pub fn flags(&self) -> Vec<String> {
        let v = &self.view;
        let mut f = Vec::new();
        if matches!(v.state, State::Failed | State::Lost | State::Corrupt) {
            f.push("failed".to_string());
        }
        if v.offline {
            f.push("offline".into());
        } else if v.stalled {
            f.push("stalled".into());
        }
        if v.state == State::Paused {
            f.push("paused".into());
        }
        if v.pending_messages > 0 {
            f.push(format!("{} msg", v.pending_messages));
        }
        f
    }

    /// Lower first when attention comes first; ties keep spawn order.
    fn urgency(&self) -> u8 {
        let v = &self.view;
        match v.state {
            State::Failed | State::Lost | State::Corrupt => 0,
            _ if v.offline || v.stalled => 1,
            State::Paused => 2,
            State::Stopped | State::Skipped | State::Incomplete => 3,
            State::Running | State::Starting => 4,
            State::Queued => 5,
            State::Done => 6,
        }
    }

    fn matches(&self, filter: &str) -> bool {
        if filter.is_empty() {
            return true;
        }
        let f = filter.to_lowercase();
        let v = &self.view;
        [
            Some(v.label.as_str()),
            v.role.as_deref(),
            v.lens.as_deref(),
            Some(v.state.as_str()),
            Some(self.run.as_str()),
            v.branch.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|s| s.to_lowercase().contains(&f))
            || self.flags().iter().any(|s| s.contains(&f))
    }
}

/// What the preview pane shows for the selected worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// RUN/LABEL it belongs to.
    pub address: String,
    /// `progress`, `result`, `error`, `waiting`.
    pub title: String,
    pub lines: Vec<String>,
    /// Progress is shown from its end (the newest line at the bottom).
    pub from_end: bool,
}

/// The run lines above the table: one per run shown.
#[derive(Debug, Clone)]
pub struct RunLine {
    pub id: String,
    pub text: String,
}

pub struct Model {
    pub scope: Scope,
    pub runs: Vec<RunLine>,
    /// Every row, in spawn order (runs newest first with `--all`).
    pub rows: Vec<Row>,
    pub order: Order,
    pub filter: String,
    /// The selected worker (RUN/LABEL), kept across reorders and refreshes.
    pub selected: Option<String>,
    pub mode: Mode,
    pub preview: Preview,
    /// Lines scrolled in the preview (from its start, or up from its end).
    pub scroll: usize,
    /// What the last action did, shown above the footer.
    pub message: Option<String>,
    pub color: bool,
}

impl Model {
    pub fn new(scope: Scope, color: bool) -> Model {
        Model {
            scope,
            runs: Vec::new(),
            rows: Vec::new(),
            order: Order::Spawn,
            filter: String::new(),
            selected: None,
            mode: Mode::Normal,
            preview: Preview::default(),
            scroll: 0,
            message: None,
            color,
        }
    }

    /// Takes in what was read from disk; the selection stays on its worker, or on the
    /// first row when that worker is gone.
    pub fn update(&mut self, statuses: &[RunStatus]) {
        self.runs = statuses
            .iter()
            .map(|s| RunLine {
                id: s.run.clone(),
                text: run_line(s),
            })
            .collect();
        self.rows = statuses
            .iter()
            .flat_map(|s| {
                s.workers.iter().map(|w| Row {
                    run: s.run.clone(),
                    view: w.clone(),
                })
            })
            .collect();
        self.keep_selection();
    }

    /// The rows shown, filtered and ordered.
    pub fn visible(&self) -> Vec<&Row> {
        let mut v: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.matches(&self.filter))
            .collect();
        if self.order == Order::Attention {
            v.sort_by_key(|r| r.urgency());
        }
        v
    }

    pub fn selected_index(&self) -> Option<usize> {
        let sel = self.selected.as_deref()?;
        self.visible().iter().position(|r| r.address() == sel)
    }

    pub fn selected_row(&self) -> Option<&Row> {
        let sel = self.selected.as_deref()?;
        self.rows.iter().find(|r| r.address() == sel)
    }

    fn keep_selection(&mut self) {
        let visible = self.visible();
        let still = self
            .selected
            .as_deref()
            .is_some_and(|s| visible.iter().any(|r| r.address() == s));
        if !still {
            let first = visible.first().map(|r| r.address());
            self.select(first);
        }
    }

    fn select(&mut self, address: Option<String>) {
        if address != self.selected {
            self.selected = address;
            self.scroll = 0;
        }
    }

    pub fn move_by(&mut self, delta: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let at = self.selected_index().unwrap_or(0) as isize;
        let to = (at + delta).clamp(0, visible.len() as isize - 1) as usize;
        let address = visible[to].address();
        self.select(Some(address));
    }

    pub fn move_to_end(&mut self, last: bool) {
        let visible = self.visible();
        let address = if last {
            visible.last()
        } else {
            visible.first()
        }
        .map(|r| r.address());
        self.select(address);
    }

    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.preview.lines.len().saturating_sub(1);
        self.scroll = (self.scroll as isize + delta).clamp(0, max as isize) as usize;
    }

    pub fn toggle_order(&mut self) {
        self.order = match self.order {
            Order::Spawn => Order::Attention,
            Order::Attention => Order::Spawn,
        };
        self.message = Some(match self.order {
            Order::Spawn => "spawn order".into(),
            Order::Attention => "attention first: failed, stalled/offline, paused, …".into(),
        });
    }

    /// Opens a prompt line; Send and Resume remember the worker they are for.
    pub fn open_input(&mut self, kind: InputKind) {
        let mut input = Input::new(kind);
        if kind == InputKind::Filter {
            input.text = self.filter.clone();
        } else {
            input.target = self.selected.clone();
        }
        self.mode = Mode::Input(input);
    }

    /// A character typed into the open prompt; the filter applies as it is typed.
    pub fn type_char(&mut self, c: char, erase: bool) {
        let Mode::Input(input) = &mut self.mode else {
            return;
        };
        if erase {
            input.text.pop();
        } else {
            input.text.push(c);
        }
        if input.kind == InputKind::Filter {
            self.filter = input.text.clone();
            self.keep_selection();
        }
    }

    /// Closes the open prompt, overlay or question; a filter being typed is dropped.
    pub fn cancel(&mut self) {
        if let Mode::Input(i) = &self.mode
            && i.kind == InputKind::Filter
        {
            self.filter.clear();
            self.keep_selection();
        }
        self.mode = Mode::Normal;
    }
}

/// `run R · 3 workers · 2 running, 1 done · tokens 12k in / 3k out · $0.12`
fn run_line(s: &RunStatus) -> String {
    use crate::model::text;
    let counts: Vec<String> = s.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let cost = match s.cost_usd {
        Some(c) => crate::lifecycle::budget::usd(c),
        None => format!("{} + unpriced", crate::lifecycle::budget::usd(s.spent_usd)),
    };
    format!(
        "run {} · {} · {} · tokens {} in / {} out · {}{}",
        s.run,
        text::count(s.workers.len(), "worker"),
        if counts.is_empty() {
            "no workers yet".to_string()
        } else {
            counts.join(", ")
        },
        text::tokens_short(s.tokens.input),
        text::tokens_short(s.tokens.output),
        cost,
        s.budget_usd
            .map(|b| format!(" · budget {}", crate::lifecycle::budget::usd(b)))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WorkerDir;

    fn row(label: &str, state: State) -> Row {
        let w = WorkerDir {
            run: "R".into(),
            label: label.into(),
            dir: "/nonexistent/orch-top-test".into(),
        };
        let mut view = crate::lifecycle::state::view(&w, &Default::default());
        view.state = state;
        view.error = None;
        Row {
            run: "R".into(),
            view,
        }
    }

    fn model(rows: Vec<Row>) -> Model {
        let mut m = Model::new(Scope::Run("R".into()), false);
        m.rows = rows;
        m.keep_selection();
        m
    }

    fn labels(m: &Model) -> Vec<String> {
        m.visible().iter().map(|r| r.view.label.clone()).collect()
    }

    #[test]
    fn attention_first_puts_failed_then_stalled_before_the_rest_in_spawn_order() {
        let mut stalled = row("W3", State::Running);
        stalled.view.stalled = true;
        let mut m = model(vec![
            row("W1", State::Done),
            row("W2", State::Running),
            stalled,
            row("W4", State::Failed),
            row("W5", State::Done),
        ]);
        assert_eq!(labels(&m), ["W1", "W2", "W3", "W4", "W5"]);
        m.toggle_order();
        assert_eq!(labels(&m), ["W4", "W3", "W2", "W1", "W5"]);
        assert_eq!(m.rows[3].flags(), ["failed"]);
        assert_eq!(m.rows[2].flags(), ["stalled"]);
    }

    #[test]
    fn the_selection_follows_its_worker_and_stops_at_the_ends() {
        let mut m = model(vec![row("W1", State::Done), row("W2", State::Failed)]);
        assert_eq!(m.selected.as_deref(), Some("R/W1"));
        m.move_by(-1);
        assert_eq!(m.selected.as_deref(), Some("R/W1"));
        m.move_by(5);
        assert_eq!(m.selected.as_deref(), Some("R/W2"));
        m.toggle_order();
        assert_eq!(m.selected_index(), Some(0), "W2 (failed) now comes first");
        assert_eq!(m.selected.as_deref(), Some("R/W2"));
    }

    #[test]
    fn a_filter_applies_as_typed_and_esc_drops_it() {
        let mut m = model(vec![row("api", State::Done), row("ui", State::Running)]);
        m.open_input(InputKind::Filter);
        for c in "run".chars() {
            m.type_char(c, false);
        }
        assert_eq!(labels(&m), ["ui"]);
        assert_eq!(m.selected.as_deref(), Some("R/ui"));
        m.cancel();
        assert_eq!(labels(&m), ["api", "ui"]);
    }
}
