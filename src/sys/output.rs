//! Whether our output still reaches anyone. A dropped SSH session leaves a process
//! whose stdout is a pipe nobody reads (EPIPE), a hung-up terminal (EIO), or a socket
//! whose peer is gone; `poll` reports all three as an error or hang-up on the fd
//! without writing a byte, so a long-running command can stop *before* it takes on
//! work (a notice, a hook) that it could no longer hand over.

use std::os::fd::{AsFd, BorrowedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// True when writing to `fd` can no longer reach a reader.
pub fn closed(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL)
        }),
        Err(_) => false,
    }
}

/// True when stdout can no longer reach a reader.
pub fn stdout_closed() -> bool {
    closed(std::io::stdout().as_fd())
}

/// True when both stdout and stderr are gone: nobody can see anything we say.
pub fn all_closed() -> bool {
    stdout_closed() && closed(std::io::stderr().as_fd())
}

/// The width of the terminal on stdout (`COLUMNS` when the terminal does not say).
pub fn terminal_columns() -> Option<usize> {
    // crossterm, which the dashboard draws with, asks the terminal the same way.
    if let Ok((w, _)) = crossterm::terminal::size()
        && w > 0
    {
        return Some(w as usize);
    }
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&c| c > 0)
}

/// Writes one line to stdout (`stderr`: to stderr), ignoring a failure. Commands that
/// change state print with this ([`outln!`](crate::outln), [`errln!`](crate::errln)):
/// when the SSH session drops mid-command, `println!` would panic at its next line and
/// leave the change half made (a `recover` that stops after its first worker, a `gc`
/// halfway); the change goes on, and what it did stays on disk for the next look.
pub fn line(args: std::fmt::Arguments<'_>, stderr: bool) {
    use std::io::Write;
    let _ = if stderr {
        writeln!(std::io::stderr().lock(), "{args}")
    } else {
        writeln!(std::io::stdout().lock(), "{args}")
    };
}

/// Text without a newline to stdout, ignoring a failure (see [`line`]).
pub fn text(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

/// `println!` that never panics: see [`sys::output::line`](crate::sys::output::line).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::sys::output::line(format_args!($($arg)*), false) };
}

/// `eprintln!` that never panics: see [`sys::output::line`](crate::sys::output::line).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::sys::output::line(format_args!($($arg)*), true) };
}

/// Whether an I/O error means the reader is gone (rather than, say, a full disk).
pub fn is_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), BrokenPipe | ConnectionReset | NotConnected)
        || e.raw_os_error() == Some(nix::libc::EIO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_pipe_whose_reader_closed_is_closed() {
        let (r, w) = std::io::pipe().unwrap();
        assert!(!closed(w.as_fd()), "a pipe with a reader is open");
        drop(r);
        assert!(closed(w.as_fd()), "a pipe without a reader is closed");
    }

    #[test]
    fn a_socket_whose_peer_left_is_closed() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!closed(a.as_fd()));
        drop(b);
        assert!(closed(a.as_fd()));
    }

    #[test]
    fn a_pty_whose_master_closed_is_closed() {
        let pty = nix::pty::openpty(None, None).unwrap();
        assert!(!closed(pty.slave.as_fd()));
        drop(pty.master);
        assert!(closed(pty.slave.as_fd()));
    }

    #[test]
    fn epipe_and_eio_mean_gone_but_enospc_does_not() {
        assert!(is_gone(&std::io::Error::from(
            std::io::ErrorKind::BrokenPipe
        )));
        assert!(is_gone(&std::io::Error::from_raw_os_error(nix::libc::EIO)));
        assert!(!is_gone(&std::io::Error::from_raw_os_error(
            nix::libc::ENOSPC
        )));
    }
}
