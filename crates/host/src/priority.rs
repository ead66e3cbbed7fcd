//! A thread's niceness.

/// Sets the calling thread's niceness (Linux: `PRIO_PROCESS` with a thread id is that thread
/// alone); whether it was set. Elsewhere nothing is changed and the answer is no.
pub fn set_thread_niceness(nice: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority have no memory effects; a failure leaves the priority.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nice;
        false
    }
}

/// Whether this process may raise a thread's priority back to normal after lowering it (root,
/// or an `RLIMIT_NICE` that allows niceness 0); asked of the system once.
pub fn may_restore_priority() -> bool {
    static MAY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MAY.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: geteuid and getrlimit only read process state into the given struct.
            unsafe {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::geteuid() == 0
                    || (libc::getrlimit(libc::RLIMIT_NICE, &mut limit) == 0 && limit.rlim_cur >= 20)
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    })
}
