//! glibc's allocator, tuned so that memory freed when a large table or configuration goes is
//! handed back to the kernel (issue 17 item 5; "Receive memory" in docs/benchmarks.md): fixed
//! mmap and trim thresholds, one arena, no per-thread cache, and `malloc_trim` once the dust
//! has settled after a large change.

use std::io;
use std::time::Duration;

use tracing::debug;

/// Fixes glibc's allocation thresholds, so memory freed after a large change goes back to the
/// kernel. By default glibc raises its mmap threshold to the largest block freed so far and its
/// trim threshold to twice that (up to 64 MB): after one 100k-route change, later large
/// buffers live in the per-thread heaps, whose free tops are kept. With fixed thresholds
/// blocks from 256 KiB are mapped (and unmapped when freed) and free heap tops over 1 MiB are
/// returned.
///
/// All threads share one arena (`M_ARENA_MAX` 1): `malloc_trim` returns the free top of the
/// main arena only, so a table received on a runtime worker with its own arena stayed resident
/// after the session closed (12-37 MB of a 47 MB table in half of the runs of the receive
/// bench, issue 17 item 5); with one arena every run went back to within 0.5 MB. bgpd's tasks
/// allocate little concurrently, so the shared lock costs nothing measurable.
#[allow(unsafe_code)]
pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before the runtime starts
    // its threads and has no memory-safety preconditions.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The glibc tunable that [`exec_without_thread_cache`] sets.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const NO_THREAD_CACHE: &str = "glibc.malloc.tcache_count=0";

/// Runs bgpd again, in the same process (`execve` of `/proc/self/exe` with the same
/// arguments), with glibc's per-thread cache of freed blocks turned off
/// (`GLIBC_TUNABLES=glibc.malloc.tcache_count=0`); returns at once when `GLIBC_TUNABLES`
/// already sizes that cache (so an operator can keep it: `glibc.malloc.tcache_count=7` is
/// glibc's default), and with the error when the exec failed. Call it first thing, before
/// any thread or file exists. Tunables are read only when a program starts, hence the exec.
///
/// Why: each thread keeps up to 7 freed blocks of each size up to 1 KiB for itself, and
/// glibc counts them as in use, so `malloc_trim` cannot return their pages. After a table of
/// a million routes went (receive bench, issue 17 item 5) the last blocks each thread freed
/// were spread over the 370 MB the heap had grown to, one per page: about 2 MB stayed
/// resident (`[heap]` 0.3 MB before the session, 2.4 MB after the close); with the cache
/// off, 0.4 MB. The cost is CPU on allocation-heavy work: a million-route load took
/// 3.5 s of CPU instead of 2.9 s (every block now goes through the shared arena).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn exec_without_thread_cache() -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let current = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
    let sized = current
        .to_string_lossy()
        .split(':')
        .any(|t| t.starts_with("glibc.malloc.tcache_count="));
    if sized {
        return Ok(());
    }
    let mut value = current;
    if !value.is_empty() {
        value.push(":");
    }
    value.push(NO_THREAD_CACHE);
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new("/proc/self/exe");
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // Only returns on failure.
    Err(command.args(args).env("GLIBC_TUNABLES", value).exec())
}

/// Elsewhere there is no glibc cache to turn off.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn exec_without_thread_cache() -> io::Result<()> {
    Ok(())
}

/// Hands memory freed after a (re)load back to the kernel. Parsing a large file (100k services)
/// leaves hundreds of megabytes free but mapped in glibc's heap; without this, RSS stays at the
/// parse peak for the life of the process.
#[allow(unsafe_code)]
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions and touches no
    // memory that is in use.
    unsafe {
        // What the heap held and how much of it was in use (what a trim cannot return):
        // mallinfo2 walks the free lists, so only when asked for.
        if tracing::enabled!(tracing::Level::DEBUG) {
            let heap = libc::mallinfo2();
            debug!(
                "handing freed memory back: heap {} MB, {} MB of it in use",
                heap.arena >> 20,
                heap.uordblks >> 20
            );
        }
        libc::malloc_trim(0);
    }
}

/// [`release_freed_memory`] once the dust has settled: when no call has come for
/// [`RELEASE_DELAY`], so that what is freed after a call (a session's connection buffers, the
/// Loc-RIB task catching up with the same withdrawals) goes back too. One task serves every
/// call; a call made while it trims makes it trim again. Needs a tokio runtime.
pub(crate) fn release_freed_memory_soon() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    static PENDING: AtomicBool = AtomicBool::new(false);
    REQUESTS.fetch_add(1, Ordering::AcqRel);
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        let mut seen = REQUESTS.load(Ordering::Acquire);
        loop {
            tokio::time::sleep(RELEASE_DELAY).await;
            let now = REQUESTS.load(Ordering::Acquire);
            if now != seen {
                seen = now;
                continue;
            }
            PENDING.store(false, Ordering::Release);
            release_freed_memory();
            // A call between the load and the store found PENDING set and left it to us.
            if REQUESTS.load(Ordering::Acquire) == seen || PENDING.swap(true, Ordering::AcqRel) {
                return;
            }
            seen = REQUESTS.load(Ordering::Acquire);
        }
    });
}

/// How long [`release_freed_memory_soon`] waits.
const RELEASE_DELAY: Duration = Duration::from_millis(500);

/// Items (routes, prefixes) that must have left a table, with at least half of it, before its
/// freed memory is handed back ([`Shrink::halved`]). What a table below this leaves behind is
/// about 150 KB.
pub(crate) const RELEASE_MIN: usize = 1000;

/// When a table (a peer's Adj-RIB-In, the Loc-RIB) has shrunk enough for its freed memory to
/// be worth handing back: to half of its largest size since the last time (or less: a
/// withdrawn table, a session down), by at least [`RELEASE_MIN`] items. Halving keeps the
/// trims few (about log2 of the table size for a table going away UPDATE by UPDATE).
#[derive(Debug, Default)]
pub(crate) struct Shrink {
    /// The largest size seen since memory was last handed back.
    high: usize,
}

impl Shrink {
    /// Notes a size the table had. The Loc-RIB calls it around every input, not once per
    /// drain of its channel: while peers feed faster than the table is built the drain runs
    /// without a break, and a session lost at the end of it (a table loaded, then closed)
    /// must still count the table it took away.
    pub(crate) fn seen(&mut self, held: usize) {
        self.high = self.high.max(held);
    }

    /// True (once) when `held` is at most half of the high mark, at least [`RELEASE_MIN`]
    /// below it; the mark then starts again from `held`.
    pub(crate) fn halved(&mut self, held: usize) -> bool {
        self.seen(held);
        let release = held <= self.high / 2 && self.high - held >= RELEASE_MIN;
        if release {
            self.high = held;
        }
        release
    }
}
