//! Thread per core: the proxy's worker threads, each a single-threaded tokio runtime with
//! its own accept loops and backend connection pools, so a request never wakes another
//! thread. Worker 0 is the runtime that called [`crate::run`]; the others are spawned here.
//! Asked to, each worker keeps to a core of its own (see `affinity.rs` for why).

use crate::affinity;
use std::cell::Cell;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

thread_local! {
    /// The index of the worker this thread belongs to (0 unless set by [`Workers::start`]).
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running the caller: picks its backend connection pool.
pub(crate) fn current() -> usize {
    INDEX.with(Cell::get)
}

/// One spawned worker thread and what stops it.
#[derive(Debug)]
struct Spawned {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// The workers of one proxy: a runtime handle each, the caller's first.
#[derive(Debug)]
pub(crate) struct Workers {
    handles: Vec<Handle>,
    spawned: Vec<Spawned>,
}

impl Workers {
    /// Worker 0 is the current runtime; `count - 1` more threads are started, each with
    /// its own current-thread runtime. With `pin`, each keeps to a core of its own where
    /// there are enough (the calling thread too, last, so the threads spawned above do
    /// not inherit its core). Must be called within a runtime.
    pub(crate) fn start(count: usize, pin: bool) -> std::io::Result<Self> {
        let mut workers = Self {
            handles: vec![Handle::current()],
            spawned: Vec::new(),
        };
        let cores = if pin { affinity::allowed() } else { Vec::new() };
        let core = |index| affinity::core_for(index, count, &cores);
        for index in 1..count.max(1) {
            match spawn(index, core(index)) {
                Ok((handle, spawned)) => {
                    workers.handles.push(handle);
                    workers.spawned.push(spawned);
                }
                Err(e) => {
                    workers.stop();
                    return Err(e);
                }
            }
        }
        pin_to(0, core(0));
        Ok(workers)
    }

    /// Every worker's runtime, worker 0 first.
    pub(crate) fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// How many workers there are.
    pub(crate) fn count(&self) -> usize {
        self.handles.len()
    }

    /// Stops the spawned threads (their runtimes drop whatever tasks remain) and waits
    /// for them; the caller's accept loops must have drained first.
    pub(crate) fn stop(&mut self) {
        for spawned in self.spawned.drain(..) {
            let _ = spawned.stop.send(());
            let _ = spawned.thread.join();
        }
        self.handles.truncate(1);
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keeps the calling thread, worker `index`, on `core` (if any); a failure costs only
/// the placement, so it is logged and the worker runs unpinned.
fn pin_to(index: usize, core: Option<usize>) {
    if let Some(cpu) = core {
        if let Err(e) = affinity::pin_current(cpu) {
            tracing::warn!("worker {index} not pinned to core {cpu}: {e}");
        }
    }
}

/// Starts worker `index` on its own thread (kept on `core`, if any); returns its
/// runtime's handle once it runs.
fn spawn(index: usize, core: Option<usize>) -> std::io::Result<(Handle, Spawned)> {
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready, handle) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("lcc-proxy-{index}"))
        .spawn(move || {
            INDEX.with(|i| i.set(index));
            pin_to(index, core);
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let _ = ready.send(Ok(runtime.handle().clone()));
            runtime.block_on(async {
                let _ = stopped.await;
            });
            // connections still open after the drain are cut here
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        })?;
    match handle.recv() {
        Ok(Ok(handle)) => Ok((handle, Spawned { stop, thread })),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(std::io::Error::other("a worker thread ended at start"))
        }
    }
}
