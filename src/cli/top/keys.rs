//! The dashboard's keys: what each key does in each mode, and the list the footer and
//! the `?` help show (one table, so what is shown is what works).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::Mode;

/// What a key asks for. The model applies the ones that only move or edit; the loop
/// in `mod.rs` carries out the ones that touch workers or the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    Move(isize),
    First,
    Last,
    Scroll(isize),
    Attach,
    AskStop,
    Confirm,
    Cancel,
    Retry,
    AskResume,
    AskSend,
    Log,
    Merge,
    Diff,
    AskFilter,
    ToggleOrder,
    Help,
    Type(char),
    Erase,
    Submit,
}

/// The keys of the normal mode, as the footer (short) and `?` (long) show them.
pub const KEYS: &[(&str, &str, &str)] = &[
    ("j/k", "move", "j/k or ↓/↑ move (g/G first/last)"),
    (
        "⏎",
        "attach",
        "Enter attach to the worker's window (detach: C-b d)",
    ),
    ("s", "stop", "s stop the worker (asks y/n)"),
    ("r", "retry", "r retry a failed, stopped or lost worker"),
    (
        "R",
        "resume",
        "R resume its conversation with a prompt you type",
    ),
    (">", "send", "> (or i) send a message to a running worker"),
    ("l", "log", "l its full log in $PAGER (default less)"),
    ("d", "diff", "d its diff (worktree workers)"),
    ("m", "merge", "m the run's merge in $PAGER"),
    (
        "/",
        "filter",
        "f or / filter rows by label, role, state or run",
    ),
    ("a", "attention", "a attention first / spawn order"),
    ("?", "help", "PgUp/PgDn scroll the preview; ? this help"),
    ("q", "quit", "q quit"),
];

pub fn action(mode: &Mode, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Input(_) => match key.code {
            KeyCode::Enter => Some(Action::Submit),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Erase),
            KeyCode::Char(c) if !ctrl => Some(Action::Type(c)),
            _ => None,
        },
        Mode::ConfirmStop(_) => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Confirm),
            _ => Some(Action::Cancel),
        },
        Mode::Help => match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            _ => Some(Action::Cancel),
        },
        Mode::Normal => Some(match key.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('j') | KeyCode::Down => Action::Move(1),
            KeyCode::Char('k') | KeyCode::Up => Action::Move(-1),
            KeyCode::Char('g') | KeyCode::Home => Action::First,
            KeyCode::Char('G') | KeyCode::End => Action::Last,
            KeyCode::PageDown => Action::Scroll(10),
            KeyCode::PageUp => Action::Scroll(-10),
            KeyCode::Enter => Action::Attach,
            KeyCode::Char('s') => Action::AskStop,
            KeyCode::Char('r') => Action::Retry,
            KeyCode::Char('R') => Action::AskResume,
            KeyCode::Char('>') | KeyCode::Char('i') => Action::AskSend,
            KeyCode::Char('l') => Action::Log,
            KeyCode::Char('m') => Action::Merge,
            KeyCode::Char('d') => Action::Diff,
            KeyCode::Char('f') | KeyCode::Char('/') => Action::AskFilter,
            KeyCode::Char('a') => Action::ToggleOrder,
            KeyCode::Char('?') => Action::Help,
            KeyCode::Esc => Action::Cancel,
            _ => return None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn typing_in_a_prompt_is_text_not_commands() {
        let m = Mode::Input(super::super::model::Input::new(
            super::super::model::InputKind::Send,
        ));
        assert_eq!(action(&m, key(KeyCode::Char('q'))), Some(Action::Type('q')));
        assert_eq!(action(&m, key(KeyCode::Enter)), Some(Action::Submit));
        assert_eq!(
            action(&Mode::Normal, key(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
    }

    #[test]
    fn only_y_confirms_a_stop() {
        let m = Mode::ConfirmStop("R/W1".into());
        assert_eq!(action(&m, key(KeyCode::Char('y'))), Some(Action::Confirm));
        assert_eq!(action(&m, key(KeyCode::Char('n'))), Some(Action::Cancel));
        assert_eq!(action(&m, key(KeyCode::Enter)), Some(Action::Cancel));
    }
}
