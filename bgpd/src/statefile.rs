//! The state file, `global.state_dir`/`state.json`: what bgpd learned at run time and must
//! not lose across a restart (issue 13).
//!
//! - runtime services (`bgpctl announce`, single and bulk), one group per request with the
//!   request's arguments and its prefixes;
//! - configured services withdrawn with `bgpctl withdraw`;
//! - the last health verdict of every check target, so a restarted bgpd starts each check
//!   from it instead of from `init`.
//!
//! Written after every accepted change, atomically: a temporary file in the same directory,
//! `fsync`, `rename` over the old file, `fsync` of the directory. A crash at any point leaves
//! either the old file or the new one, never a mix. Read once at start, before the first
//! UPDATE: a file that cannot be read whole (bad JSON, an unknown field, a bad prefix, a newer
//! format) is refused whole, moved aside (`state.json.refused-UNIXTIME`) and bgpd starts from
//! the configuration only; it never half-loads.
//!
//! The writer ([`Writer`]) runs on its own task and always writes the newest state: changes
//! that arrive while a write is in progress are folded into the next one, so a burst of API
//! calls costs one write per `fsync`, not one per call.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{error, info};

use crate::announce::{RuntimeSpec, RuntimeTable};
use crate::api::AnnounceArgs;
use crate::events::unix_secs;

/// The format this bgpd writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The state file's name inside `global.state_dir`.
pub const FILE_NAME: &str = "state.json";
/// The temporary file a write goes through (same directory, so `rename` is atomic).
const TEMP_NAME: &str = ".state.json.tmp";

/// Everything in the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Format version ([`FORMAT_VERSION`] when written by this build).
    pub version: u32,
    /// Runtime services (`bgpctl announce`), one entry per request.
    #[serde(default)]
    pub runtime: Vec<RuntimeGroup>,
    /// Configured services withdrawn with `bgpctl withdraw`.
    #[serde(default)]
    pub suppressed: Vec<Suppressed>,
    /// The last health-check verdicts, so a restart does not announce a failing service.
    #[serde(default)]
    pub health: Vec<HealthVerdict>,
    /// Peers shut down or drained by the operator.
    #[serde(default)]
    pub peers: Vec<PeerState>,
}

/// What the operator did to one peer (`bgpctl neighbor NAME shutdown|drain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerState {
    /// The peer's name.
    pub name: String,
    /// Shut down, with the Shutdown Communication (empty when none was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<String>,
    /// Drained by itself (`bgpctl neighbor NAME drain`).
    #[serde(default)]
    pub drained: bool,
}

impl PeerState {
    /// A peer with nothing done to it.
    pub fn new(name: &str) -> PeerState {
        PeerState {
            name: name.to_string(),
            shutdown: None,
            drained: false,
        }
    }
}

/// The runtime services of one `bgpctl announce` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeGroup {
    /// The request's arguments; its `prefix` is empty (the prefixes are below).
    pub request: AnnounceArgs,
    /// When it was announced (Unix seconds).
    pub since: u64,
    /// The prefixes, separated by single spaces: one string, so 100k of them are one JSON
    /// value to read, not 100k.
    pub prefixes: String,
}

/// A configured service withdrawn with `bgpctl withdraw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppressed {
    /// The service's prefix.
    pub prefix: IpNet,
    /// When it was withdrawn (Unix seconds).
    pub since: u64,
}

/// The last verdict of one health-check target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthVerdict {
    /// The service's name.
    pub service: String,
    /// The target as `bgpctl services` describes it (`tcp 127.0.0.1:80`): a verdict is
    /// restored only to the same check of the same service.
    pub target: String,
    /// `true` = up, `false` = down (`init` is not saved).
    pub up: bool,
}

/// What the runtime groups of a snapshot become: one table, every prefix checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredGroup {
    /// The request's arguments; its `prefix` is empty.
    pub request: AnnounceArgs,
    /// When it was announced.
    pub since: SystemTime,
    /// Sorted, unique, canonical.
    pub prefixes: Vec<IpNet>,
}

/// Why the state file was not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file exists but could not be read.
    #[error("cannot read the state file {path}: {source}")]
    Read {
        /// The state file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("the state file {path} is not valid: {reason}")]
    Invalid {
        /// The state file.
        path: PathBuf,
        /// What is wrong, as a sentence.
        reason: String,
    },
    /// The file was written in a newer format than this build reads.
    #[error(
        "the state file {path} has format version {found}; this bgpd reads up to version \
         {FORMAT_VERSION} (written by a newer bgpd?)"
    )]
    Newer {
        /// The state file.
        path: PathBuf,
        /// The format version it has.
        found: u32,
    },
}

/// The state file's path in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Reads the state file of `dir`. `Ok(None)`: there is none (a first start). Every prefix
/// of every group is checked; the snapshot is returned whole or not at all.
pub fn load(dir: &Path) -> Result<Option<(Snapshot, Vec<RestoredGroup>)>, StateError> {
    let path = path_in(dir);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path, source }),
    };
    decode(&path, &bytes).map(Some)
}

/// Parses and checks a state file's bytes (`path` names it in errors).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<(Snapshot, Vec<RestoredGroup>), StateError> {
    let invalid = |reason: String| StateError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    // The version first, so a newer format is named as such rather than as a bad field.
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let v: VersionOnly =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("{e} (not bgpd state?)")))?;
    if v.version > FORMAT_VERSION {
        return Err(StateError::Newer {
            path: path.to_path_buf(),
            found: v.version,
        });
    }
    if v.version == 0 {
        return Err(invalid("format version 0 does not exist".into()));
    }
    let snapshot: Snapshot = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let mut groups = Vec::with_capacity(snapshot.runtime.len());
    for (i, g) in snapshot.runtime.iter().enumerate() {
        let mut prefixes = Vec::new();
        for word in g.prefixes.split_ascii_whitespace() {
            let p: IpNet = word
                .parse()
                .map_err(|_| invalid(format!("runtime[{i}]: {word:?} is not a prefix")))?;
            if p.trunc() != p {
                return Err(invalid(format!(
                    "runtime[{i}]: {word} has host bits set (expected {})",
                    p.trunc()
                )));
            }
            prefixes.push(p);
        }
        if prefixes.is_empty() {
            return Err(invalid(format!("runtime[{i}] has no prefixes")));
        }
        if !g.request.prefix.is_empty() {
            return Err(invalid(format!(
                "runtime[{i}].request.prefix must be empty"
            )));
        }
        prefixes.sort_unstable();
        prefixes.dedup();
        groups.push(RestoredGroup {
            request: g.request.clone(),
            since: UNIX_EPOCH + Duration::from_secs(g.since),
            prefixes,
        });
    }
    for (i, s) in snapshot.suppressed.iter().enumerate() {
        if s.prefix.trunc() != s.prefix {
            return Err(invalid(format!(
                "suppressed[{i}]: {} has host bits set",
                s.prefix
            )));
        }
    }
    Ok((snapshot, groups))
}

/// Moves a refused state file aside (`state.json.refused-UNIXTIME`) so the next write does
/// not destroy what an operator may want to inspect; returns where it went.
pub fn set_aside(dir: &Path) -> io::Result<PathBuf> {
    let to = dir.join(format!(
        "{FILE_NAME}.refused-{}",
        unix_secs(SystemTime::now())
    ));
    fs::rename(path_in(dir), &to)?;
    Ok(to)
}

/// What is saved, as the control state holds it (cheap to take under its lock: the runtime
/// table is shared, the rest is small).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The runtime services.
    pub runtime: Arc<RuntimeTable>,
    /// Configured services withdrawn with `bgpctl withdraw`, and since when.
    pub suppressed: Vec<(IpNet, SystemTime)>,
    /// The last health-check verdicts.
    pub health: Vec<HealthVerdict>,
    /// Peers shut down or drained by the operator.
    pub peers: Vec<PeerState>,
}

impl State {
    /// The snapshot of this state: runtime entries grouped by the request they came from.
    pub fn snapshot(&self) -> Snapshot {
        let mut runtime: Vec<RuntimeGroup> = Vec::new();
        let mut index: std::collections::HashMap<*const RuntimeSpec, usize> =
            std::collections::HashMap::new();
        for (prefix, spec) in self.runtime.iter() {
            let i = *index.entry(Arc::as_ptr(spec)).or_insert_with(|| {
                runtime.push(RuntimeGroup {
                    request: AnnounceArgs {
                        prefix: String::new(),
                        ..spec.request.clone()
                    },
                    since: unix_secs(spec.since),
                    prefixes: String::new(),
                });
                runtime.len() - 1
            });
            if let Some(g) = runtime.get_mut(i) {
                if !g.prefixes.is_empty() {
                    g.prefixes.push(' ');
                }
                use std::fmt::Write as _;
                let _ = write!(g.prefixes, "{prefix}");
            }
        }
        Snapshot {
            version: FORMAT_VERSION,
            runtime,
            suppressed: self
                .suppressed
                .iter()
                .map(|(prefix, since)| Suppressed {
                    prefix: *prefix,
                    since: unix_secs(*since),
                })
                .collect(),
            health: self.health.clone(),
            peers: self.peers.clone(),
        }
    }
}

/// Writes `bytes` as the state file of `dir`, atomically (see the module docs).
pub fn write_atomic(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = write_temp(dir, bytes)?;
    commit(dir, &temp)
}

/// First half of [`write_atomic`]: the temporary file, written and synced. A crash after
/// this leaves the old state file as it was (the temporary file is ignored when reading).
pub fn write_temp(dir: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let temp = dir.join(TEMP_NAME);
    let mut f = File::create(&temp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(temp)
}

/// Second half of [`write_atomic`]: the rename over the old file and the directory sync
/// that makes the rename itself durable.
pub fn commit(dir: &Path, temp: &Path) -> io::Result<()> {
    fs::rename(temp, path_in(dir))?;
    File::open(dir)?.sync_all()
}

/// Creates the state directory (mode 0750) if it is missing.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a directory",
        )),
        Err(_) => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir),
    }
}

/// The background writer: [`Writer::save`] hands it the newest state and returns the
/// generation to wait for with [`Writer::written`].
pub struct Writer {
    dir: PathBuf,
    latest: watch::Sender<(u64, Option<State>)>,
    /// (generation written or attempted, the error of that attempt).
    done: watch::Receiver<(u64, Option<String>)>,
}

impl Writer {
    /// Starts the writer task for `dir` (inside the tokio runtime). `unusable`: the directory
    /// cannot be used (the reason); nothing is written and [`Writer::written`] reports why.
    pub fn start(dir: PathBuf, unusable: Option<String>) -> Writer {
        let (latest, mut rx) = watch::channel((0u64, None::<State>));
        let (done_tx, done) = watch::channel((0u64, unusable.clone()));
        let task_dir = dir.clone();
        tokio::spawn(async move {
            let mut failing = false;
            while rx.changed().await.is_ok() {
                let (generation, state) = rx.borrow_and_update().clone();
                let Some(state) = state else { continue };
                let result = match &unusable {
                    Some(why) => Err(why.clone()),
                    None => {
                        let dir = task_dir.clone();
                        tokio::task::spawn_blocking(move || {
                            let bytes =
                                serde_json::to_vec(&state.snapshot()).map_err(|e| e.to_string())?;
                            write_atomic(&dir, &bytes).map_err(|e| e.to_string())
                        })
                        .await
                        .unwrap_or_else(|e| Err(format!("writer failed: {e}")))
                    }
                };
                let error = match result {
                    Ok(()) => {
                        if failing {
                            info!("state file {} written again", path_in(&task_dir).display());
                        }
                        failing = false;
                        None
                    }
                    Err(e) => {
                        if !failing && unusable.is_none() {
                            error!(
                                "cannot write the state file {}: {e}; runtime changes are \
                                 applied but will not survive a restart until it can be \
                                 written",
                                path_in(&task_dir).display()
                            );
                        }
                        failing = true;
                        Some(e)
                    }
                };
                let _ = done_tx.send((generation, error));
            }
        });
        Writer { dir, latest, done }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues `state` for writing; returns its generation.
    pub fn save(&self, state: State) -> u64 {
        let mut generation = 0;
        self.latest.send_modify(|(g, s)| {
            *g += 1;
            generation = *g;
            *s = Some(state);
        });
        generation
    }

    /// Waits until `generation` (or a later one) was written; `Err` names why it was not.
    pub async fn written(&self, generation: u64) -> Result<(), String> {
        let mut done = self.done.clone();
        let waited = done.wait_for(|(g, _)| *g >= generation).await;
        match waited {
            Ok(r) => match &r.1 {
                None => Ok(()),
                Some(e) => Err(e.clone()),
            },
            Err(_) => Err("the state writer stopped".into()),
        }
    }
}

#[cfg(test)]
mod tests;
