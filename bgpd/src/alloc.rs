//! Allocator hooks (glibc `mallopt` and `malloc_trim`): the one place that talks to the
//! allocator, used by the daemon, the peer tasks, the Loc-RIB and the control server alike
//! (a leaf module, so none of them reaches back up into another for it).

use std::time::Duration;

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

/// Hands memory freed after a (re)load back to the kernel. Parsing a large file (100k services)
/// leaves hundreds of megabytes free but mapped in glibc's heap; without this, RSS stays at the
/// parse peak for the life of the process.
#[allow(unsafe_code)]
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions and touches no
    // memory that is in use.
    unsafe {
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
