//! Crash points for tests: `ORCH_TEST_CRASH_AT=<point>` makes orch kill itself with
//! SIGKILL at that point, so tests can check that every half-done state is handled.
//! Points: run-dir-created, dir-created, spec-written, launch-written,
//! window-created. `ORCH_TEST_HANGUP_AT=<point>` raises SIGHUP there instead, as a
//! terminal or SSH connection that goes away mid-command does. Hidden on purpose; no
//! user has a reason to set either.

pub fn crash_point(point: &str) {
    if std::env::var_os("ORCH_TEST_CRASH_AT").is_some_and(|v| v == point) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    if std::env::var_os("ORCH_TEST_HANGUP_AT").is_some_and(|v| v == point) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP);
    }
}
