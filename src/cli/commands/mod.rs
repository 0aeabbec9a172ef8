//! One file per subcommand: resolve the arguments, call one operation, render.

pub mod attach;
pub mod diff;
pub mod doctor;
pub mod fanout;
pub mod gc;
pub mod land;
pub mod logs;
pub mod ls;
pub mod merge;
pub mod pack;
pub mod plan;
pub mod recover;
pub mod result;
pub mod resume;
pub mod retry;
pub mod run;
pub mod send;
pub mod set;
pub mod spawn;
pub mod status;
pub mod stop;
pub mod top;
pub mod wait;
pub mod watch;
