//! Process-wide tuning for training loops: the allocator, and candle's idle workers.
//!
//! A training step allocates and frees the same few large buffers (activations, codes and
//! gradients of 1 to 16 MiB) every time. glibc's malloc serves blocks that large with
//! `mmap` and gives them back with `munmap` on free, so every step faults in, zeroes and
//! unmaps megabytes of fresh pages (with a TLB shoot-down across cores for each unmap):
//! measured on the adversarial network's training step (2 threads, AMD EPYC Zen 5), about a
//! third of the step's time. Keeping freed memory in the heap makes the next step reuse it.

/// Tells glibc's malloc to serve blocks up to 32 MiB (its maximum) from the heap instead of
/// `mmap`, and to keep up to 1 GiB of freed memory instead of returning it to the system.
/// Returns whether the setting took effect (`false` on other C libraries, where it does
/// nothing). Call it once at the start of a program, before other threads start; it changes
/// no result, only where memory comes from.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 1 << 30;
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only changes two of malloc's tuning parameters; it takes plain
        // integers and touches no memory of ours.
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        };
        tracing::debug!(ok, "malloc: mmap threshold 32 MiB, trim threshold 1 GiB");
        ok
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Lets candle's own worker threads (which run its element-wise operations) sleep as soon
/// as they are idle, instead of spinning for up to 25,000 pause instructions after every
/// operation: this crate's kernels run on rayon's threads, and where there are as many of
/// those as cores a spinning candle worker takes a core from them. Measured on the
/// adversarial PGD-10 step (2 threads, AMD EPYC Zen 4, family 25 model 17): faster in 14 of
/// 16 alternating pairs, median 1.05x. Sets `CANDLE_BARRIER_POOL_SPIN_LIMIT=0` unless the
/// environment sets it already (then returns `false`). The setting is read when candle's
/// pool starts; it changes no result, only when idle threads sleep.
///
/// # Safety
/// It sets an environment variable, which is undefined behaviour on most C libraries while
/// another thread reads the environment: call it before any other thread of the process
/// starts (the first thing `main` does).
#[allow(unsafe_code)]
pub unsafe fn park_idle_candle_workers() -> bool {
    const VAR: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";
    if std::env::var_os(VAR).is_some() {
        return false;
    }
    // SAFETY: the caller guarantees that no other thread runs yet.
    unsafe { std::env::set_var(VAR, "0") };
    tracing::debug!("candle's idle workers park at once");
    true
}
