//! Threads that run until they are told to stop, and are joined then.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The background threads of a process and the word to stop them.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stopped: Mutex<bool>,
    wake: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Jobs {
    /// Runs `work` once on a thread of its own. Long work checks [`Jobs::is_stopped`] between
    /// its steps.
    pub fn spawn(&self, name: &str, work: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let mut threads = self.inner.threads.lock();
        if *self.inner.stopped.lock() {
            return Ok(());
        }
        threads.retain(|thread| !thread.is_finished());
        threads.push(std::thread::Builder::new().name(name.to_owned()).spawn(work)?);
        Ok(())
    }

    /// Runs `work` every `period` on a thread of its own until the jobs stop.
    pub fn every(&self, name: &str, period: Duration, mut work: impl FnMut() + Send + 'static) -> std::io::Result<()> {
        let jobs = self.clone();
        self.spawn(name, move || {
            while jobs.sleep(period) {
                work();
            }
        })
    }

    /// Waits `period`, or less if the jobs stop meanwhile; false once they have stopped.
    pub fn sleep(&self, period: Duration) -> bool {
        let deadline = Instant::now() + period;
        let mut stopped = self.inner.stopped.lock();
        while !*stopped {
            if self.inner.wake.wait_until(&mut stopped, deadline).timed_out() {
                return !*stopped;
            }
        }
        false
    }

    /// Whether the jobs were told to stop.
    pub fn is_stopped(&self) -> bool {
        *self.inner.stopped.lock()
    }

    /// Tells every job to stop and waits for their threads to end. Idempotent.
    pub fn stop_and_join(&self) {
        *self.inner.stopped.lock() = true;
        self.inner.wake.notify_all();
        let threads = std::mem::take(&mut *self.inner.threads.lock());
        for thread in threads {
            let name = thread.thread().name().unwrap_or("a job").to_owned();
            if thread.join().is_err() {
                tracing::error!(thread = %name, "a background job panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn stopping_wakes_sleeping_jobs_and_joins_every_thread_before_it_returns() {
        let jobs = Jobs::default();
        let ended = Arc::new(AtomicUsize::new(0));
        let rounds = Arc::new(AtomicUsize::new(0));
        let (counted, done) = (rounds.clone(), ended.clone());
        jobs.every("test-hourly", Duration::from_secs(3600), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_or_else(|error| panic!("{error}"));
        let (looper, done_too) = (jobs.clone(), ended.clone());
        jobs.spawn("test-steps", move || {
            while looper.sleep(Duration::from_millis(5)) {}
            done_too.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_or_else(|error| panic!("{error}"));
        jobs.spawn("test-once", move || {
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_or_else(|error| panic!("{error}"));
        let started = Instant::now();
        jobs.stop_and_join();
        assert!(started.elapsed() < Duration::from_secs(60), "an hourly job's sleep was cut short");
        assert_eq!(ended.load(Ordering::SeqCst), 2, "both jobs ended before stop_and_join returned");
        assert_eq!(rounds.load(Ordering::SeqCst), 0, "a stopped job does not run another round");
        assert!(jobs.inner.threads.lock().is_empty());
        // Work given after the stop is not started.
        let late = Arc::new(AtomicUsize::new(0));
        let late_count = late.clone();
        jobs.spawn("test-late", move || {
            late_count.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_or_else(|error| panic!("{error}"));
        jobs.stop_and_join();
        assert_eq!(late.load(Ordering::SeqCst), 0);
    }
}
