//! Shared by the daemon tests: every test bgpd keeps its state in its own directory.

/// `config` with `state_dir` in the test's own directory, unless it names one: a test bgpd
/// never reads or writes the system's /var/lib/bgpd (issue 13).
pub fn own_state_dir(config: &str, dir: &std::path::Path) -> String {
    if config.contains("state_dir") {
        return config.to_string();
    }
    let key = format!(
        "[global]\nstate_dir = \"{}\"\n",
        dir.join("state").display()
    );
    config.replacen("[global]\n", &key, 1)
}
