//! What Device Warehouse asks of the operating system beyond `std`, written once, each call
//! gated to the systems that have it and a no-op (or a "no") elsewhere:
//!
//! * [`priority`]: a thread's niceness, so long statements and password hashing yield the
//!   processor to short requests (Linux: `setpriority` on a thread id);
//! * [`allocator`]: glibc's allocator tuning, so the server's memory follows what it uses
//!   (`mallopt`, `malloc_trim`; glibc on Linux only).
#![deny(missing_docs)]

pub mod allocator;
pub mod priority;
