//! [`RealFs`](super::RealFs)'s worker threads: a small pool that lives as long as the backend,
//! started on first use and growing to a bound while jobs wait, for the work a caller should not
//! wait for one call at a time — a barrier group's fsyncs, issued together, and the closing of
//! descriptors that hold a replaced or unlinked file, whose blocks are freed (and, on a
//! filesystem mounted with `discard`, discarded, one synchronous device request per file) when
//! the last descriptor closes.
//!
//! A pool started per call would pay a thread creation per file on every barrier, which on a
//! busy 2-core machine can cost more than the fsync it overlaps (`BENCHMARKS.md`, "Issue #12").
//!
//! The pool only makes work happen sooner: a caller that needs its jobs done helps run the
//! queue ([`Workers::help`]), so every job completes even with no worker (none could be started,
//! or a child process created by `fork` inherited the pool but not its threads).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// One unit of work for a pool.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// A pool of at most `max` threads running [`Job`]s in the order given.
#[derive(Debug)]
pub(super) struct Workers {
    name: &'static str,
    max: usize,
    shared: std::sync::Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool closes.
    wake: Condvar,
    /// Signalled when the last running job finishes with nothing queued.
    settled: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Jobs running now.
    running: usize,
    /// Set when the pool is dropped: the threads finish the queue, then exit.
    closing: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("queued", &self.queue.len())
            .field("idle", &self.idle)
            .field("running", &self.running)
            .field("closing", &self.closing)
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job never runs under the lock, so a poisoned lock holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs the next queued job, if any, on this thread; returns whether there was one.
    fn run_one(&self) -> bool {
        let mut state = self.lock();
        let Some(job) = state.queue.pop_front() else {
            return false;
        };
        state.running += 1;
        drop(state);
        // A panicking job must not take the thread (and the jobs queued behind it) down; what it
        // was to report is lost with it, which its submitter sees as a closed channel.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let mut state = self.lock();
        state.running -= 1;
        if state.running == 0 && state.queue.is_empty() {
            self.settled.notify_all();
        }
        true
    }

    /// A worker's loop: runs jobs until the pool closes and its queue is empty.
    fn work(&self) {
        loop {
            if self.run_one() {
                continue;
            }
            let mut state = self.lock();
            if !state.queue.is_empty() {
                continue;
            }
            if state.closing {
                return;
            }
            state.idle += 1;
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }
}

impl Workers {
    /// A pool named `name` (its threads' name) of at most `max` threads, none started yet.
    pub(super) fn new(name: &'static str, max: usize) -> Workers {
        Workers {
            name,
            max: max.max(1),
            shared: Default::default(),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// How many jobs wait for a thread.
    pub(super) fn backlog(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Returns once every job submitted so far has run (helping with the queued ones).
    pub(super) fn settle(&self) {
        self.help();
        let mut state = self.shared.lock();
        while state.running > 0 || !state.queue.is_empty() {
            state = self
                .shared
                .settled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs queued jobs on the caller's thread until none is left: a caller about to wait for
    /// its jobs' results helps instead, so that they complete even when no worker runs (none
    /// could be started, or the process is a `fork` child that inherited the pool but not its
    /// threads), and sooner when the workers are busy.
    pub(super) fn help(&self) {
        while self.shared.run_one() {}
    }

    /// Queues `job`, starting a thread if every started one is busy and the bound allows. A job
    /// for which no thread can be started waits for a running one, or for a caller's
    /// [`Workers::help`] or [`Workers::settle`].
    pub(super) fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        state.queue.push_back(job);
        let waiting = state.queue.len();
        let idle = state.idle;
        drop(state);
        if waiting > idle {
            let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
            if threads.len() < self.max {
                let shared = std::sync::Arc::clone(&self.shared);
                let spawned = std::thread::Builder::new()
                    .name(self.name.to_string())
                    .spawn(move || shared.work());
                if let Ok(handle) = spawned {
                    threads.push(handle);
                    return;
                }
            }
        }
        self.shared.wake.notify_one();
    }
}

impl Drop for Workers {
    /// Lets the threads finish every queued job, then waits for them.
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_all();
        let threads = std::mem::take(
            self.threads
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for handle in threads {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Workers;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn every_job_runs_once_and_settling_or_dropping_the_pool_waits_for_them() {
        let done = Arc::new(AtomicUsize::new(0));
        let pool = Workers::new("test-worker", 3);
        for _ in 0..100 {
            let done = Arc::clone(&done);
            pool.submit(Box::new(move || {
                std::thread::sleep(std::time::Duration::from_micros(50));
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        assert!(pool.threads.lock().unwrap().len() <= 3);
        pool.settle();
        assert_eq!(done.load(Ordering::SeqCst), 100);
        let counter = Arc::clone(&done);
        pool.submit(Box::new(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 101);
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_ones_behind_it() {
        let done = Arc::new(AtomicUsize::new(0));
        let pool = Workers::new("test-worker", 1);
        pool.submit(Box::new(|| panic!("a job's own failure")));
        let counter = Arc::clone(&done);
        pool.submit(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
