//! What validation needs from the host it runs on, asked through [`Host`] rather than done
//! here: the configuration stays pure (text in, typed config or located errors out) and the
//! daemon, which owns every system call, answers.

use std::io;
use std::path::Path;

/// The facts about the host that a configuration depends on. bgpd's implementation asks the
/// kernel (`if_nametoindex(3)`) and the file system; tests give fixed answers.
pub trait Host {
    /// The index of interface `name` (`if_nametoindex(3)`), `None` when there is none: whether
    /// a peer's `interface` exists, and the scope of a link-local peer address.
    fn interface_index(&self, name: &str) -> Option<u32>;
    /// The permission bits of the file at `path` (`st_mode`): a `password_file` readable by
    /// every user is refused.
    fn file_mode(&self, path: &Path) -> io::Result<u32>;
    /// The whole text of the file at `path`: the configuration file ([`crate::Config::load`])
    /// and a `password_file`.
    fn read_file(&self, path: &Path) -> io::Result<String>;
}

/// The host of the unit tests: one interface, `lo` (index 1); files from the file system
/// (the tests write their own).
#[cfg(test)]
pub(crate) struct TestHost;

#[cfg(test)]
impl Host for TestHost {
    fn interface_index(&self, name: &str) -> Option<u32> {
        (name == "lo").then_some(1)
    }

    fn file_mode(&self, path: &Path) -> io::Result<u32> {
        use std::os::unix::fs::PermissionsExt;
        Ok(std::fs::metadata(path)?.permissions().mode())
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}
