//! The RTOS layer's portable scenarios, on a board: pre-emption, time slicing, delays, queues,
//! notifications, mutex contention, heap accounting and tasks that return, all in one boot.
//!
//! A board has one "process" per boot, so the scenarios run one after another in the
//! application task, each printing `PASS <name> ...` or `FAIL <name>: <why>`; the last line
//! counts them, and the exit status is 0 only if every one passed.
//!
//! ```sh
//! cargo run --release --target thumbv7em-none-eabihf --example board_rtos_scenarios
//! ```
//!
//! `BOARD_SCENARIO=<name>` at build time runs one scenario alone; two of them exist only that
//! way, because they end the boot on purpose: `task_panic` (the panic handler must print the
//! task and exit with 101) and `stack_overflow` (the kernel's check must name the task and exit
//! with 70).
//!
//! (The simulator runs its own, larger set one scenario per process: `rtos-selftest`.) Not a
//! product binary. On a host this example only says where it runs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "board_rtos_scenarios runs on a board: cargo run --release --target \
         thumbv7em-none-eabihf --example board_rtos_scenarios"
    );
}

#[cfg(target_os = "none")]
#[cortex_m_rt::entry]
fn main() -> ! {
    board::main()
}

#[cfg(target_os = "none")]
mod board {
    extern crate alloc;

    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use core::time::Duration;

    use freertos_https::board::{self as boards, mps2_an386};
    use freertos_https::rtos::console::{self, Stream};
    use freertos_https::rtos::heap::HeapStats;
    use freertos_https::rtos::scheduler;
    use freertos_https::rtos::sync::{Mutex, Queue};
    use freertos_https::rtos::task::{self, Priority, TaskHandle};
    use freertos_https::rtos::time::{self, Ticks};

    type Scenario = fn() -> Result<String, String>;

    const SCENARIOS: &[(&str, Scenario)] = &[
        ("preemption", preemption),
        ("time_slicing", time_slicing),
        ("delays", delays),
        ("queue", queue),
        ("notification", notification),
        ("mutex", mutex),
        ("heap_accounting", heap_accounting),
        ("task_returns", task_returns),
    ];

    /// Scenarios that end the boot (run only when chosen by `BOARD_SCENARIO`).
    const FAULT_SCENARIOS: &[(&str, Scenario)] = &[
        ("task_panic", task_panic),
        ("stack_overflow", stack_overflow),
    ];

    /// Above every task a scenario spawns, so it can always observe them.
    const APP_PRIORITY: u8 = 8;

    pub fn main() -> ! {
        let _ = boards::install(&mps2_an386::SERVICES);
        let services = boards::services();
        let ran = scheduler::run_application(priority(APP_PRIORITY), || {
            let chosen: Vec<&(&str, Scenario)> = match option_env!("BOARD_SCENARIO") {
                None => SCENARIOS.iter().collect(),
                Some(wanted) => SCENARIOS
                    .iter()
                    .chain(FAULT_SCENARIOS)
                    .filter(|(name, _)| *name == wanted)
                    .collect(),
            };
            if chosen.is_empty() {
                line(format_args!(
                    "FAIL no scenario is named {:?}",
                    option_env!("BOARD_SCENARIO")
                ));
                return 2;
            }
            let mut failed = 0;
            for (name, scenario) in &chosen {
                match scenario() {
                    Ok(details) => line(format_args!("PASS {name} {details}")),
                    Err(why) => {
                        failed += 1;
                        line(format_args!("FAIL {name}: {why}"));
                    }
                }
            }
            line(format_args!(
                "scenarios: {} passed, {failed} failed",
                chosen.len() - failed
            ));
            i32::from(failed > 0)
        });
        match ran {
            Ok(status) => services.exit(status),
            Err(error) => {
                line(format_args!("FAIL start: {error}"));
                services.exit(1)
            }
        }
    }

    fn line(args: core::fmt::Arguments<'_>) {
        console::write_line(Stream::Stdout, args);
    }

    fn priority(level: u8) -> Priority {
        Priority::new(level).expect("scenario priorities are below configMAX_PRIORITIES")
    }

    fn spawn(
        name: &str,
        level: u8,
        body: impl FnOnce() + Send + 'static,
    ) -> Result<TaskHandle, String> {
        task::spawn(name, priority(level), body).map_err(|error| format!("spawn {name}: {error}"))
    }

    fn ticks(ms: u64) -> Ticks {
        Ticks::from_duration(Duration::from_millis(ms))
    }

    /// Waits, blocking, until every handle's task has returned, at most `limit_ms`.
    fn join(handles: &[TaskHandle], limit_ms: u64) -> Result<(), String> {
        let start = time::Instant::now();
        while handles.iter().any(TaskHandle::is_running) {
            if start.elapsed() > Duration::from_millis(limit_ms) {
                return Err(format!("tasks still running after {limit_ms} ms"));
            }
            time::delay(Duration::from_millis(1));
        }
        Ok(())
    }

    /// A task made ready at a higher priority runs before `spawn` returns to the caller.
    fn preemption() -> Result<String, String> {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let handle = spawn("high", APP_PRIORITY + 1, move || {
            flag.store(true, Ordering::SeqCst)
        })?;
        let ran_first = ran.load(Ordering::SeqCst);
        join(&[handle], 100)?;
        if ran_first {
            Ok("the higher-priority task ran first".into())
        } else {
            Err("spawn returned before the higher-priority task ran".into())
        }
    }

    /// Two busy tasks of one priority both progress (the tick slices between them).
    fn time_slicing() -> Result<String, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Vec<Arc<AtomicU32>> = (0..2).map(|_| Arc::new(AtomicU32::new(0))).collect();
        let mut handles = Vec::new();
        for (index, count) in counts.iter().enumerate() {
            let (stop, count) = (stop.clone(), count.clone());
            handles.push(spawn(&format!("busy{index}"), 3, move || {
                while !stop.load(Ordering::SeqCst) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })?);
        }
        time::delay(Duration::from_millis(50));
        stop.store(true, Ordering::SeqCst);
        join(&handles, 100)?;
        let (a, b) = (
            counts[0].load(Ordering::SeqCst),
            counts[1].load(Ordering::SeqCst),
        );
        if a > 0 && b > 0 {
            Ok(format!("both ran ({a} and {b} spins in 50 ms)"))
        } else {
            Err(format!("one task starved: {a} and {b} spins"))
        }
    }

    /// `delay` blocks for the ticks asked, and not much longer.
    fn delays() -> Result<String, String> {
        for ms in [1u64, 10, 100] {
            let before = time::tick_count().as_u64();
            time::delay(Duration::from_millis(ms));
            let waited = time::tick_count().as_u64() - before;
            if waited < ms || waited > ms + 2 {
                return Err(format!("delay({ms} ms) took {waited} ticks"));
            }
        }
        Ok("1, 10 and 100 ms took their ticks".into())
    }

    /// A queue keeps order, refuses a send when full, and a receive times out when empty.
    fn queue() -> Result<String, String> {
        let queue: Queue<u32> = Queue::new(4).map_err(|error| error.to_string())?;
        for value in 1..=4 {
            queue
                .send(value, Ticks::ZERO)
                .map_err(|_| "send into a free slot failed")?;
        }
        if queue.send(5, ticks(5)).is_ok() {
            return Err("a full queue accepted an item".into());
        }
        let received: Vec<u32> = (0..4).filter_map(|_| queue.receive(Ticks::ZERO)).collect();
        if received != [1, 2, 3, 4] {
            return Err(format!("received {received:?}"));
        }
        let before = time::tick_count().as_u64();
        if queue.receive(ticks(5)).is_some() {
            return Err("an empty queue gave an item".into());
        }
        let waited = time::tick_count().as_u64() - before;
        if waited < 5 {
            return Err(format!(
                "an empty receive gave up after {waited} of 5 ticks"
            ));
        }
        Ok(format!(
            "order kept, full send refused, empty receive waited {waited} ticks"
        ))
    }

    /// A task waiting for a notification wakes when it is given.
    fn notification() -> Result<String, String> {
        let woke = Arc::new(AtomicU32::new(0));
        let count = woke.clone();
        let waiter = spawn("waiter", 4, move || {
            count.store(task::wait_for_notification(ticks(1000)), Ordering::SeqCst);
        })?;
        time::delay(Duration::from_millis(5));
        if !waiter.notify() {
            return Err("the waiter ended before it was notified".into());
        }
        join(&[waiter], 100)?;
        match woke.load(Ordering::SeqCst) {
            1 => Ok("woken by one notification".into()),
            other => Err(format!("the waiter saw a count of {other}")),
        }
    }

    /// Tasks at two priorities contend for a mutex; no increment is lost.
    fn mutex() -> Result<String, String> {
        const ROUNDS: u32 = 500;
        let shared = Arc::new(Mutex::new(0u32).map_err(|error| error.to_string())?);
        let mut handles = Vec::new();
        for (index, level) in [3u8, 4].into_iter().enumerate() {
            let shared = shared.clone();
            handles.push(spawn(&format!("locker{index}"), level, move || {
                for _ in 0..ROUNDS {
                    let mut value = shared.lock();
                    let seen = *value;
                    task::yield_now();
                    *value = seen + 1;
                }
            })?);
        }
        join(&handles, 5000)?;
        let total = *shared.lock();
        if total == 2 * ROUNDS {
            Ok(format!("{total} increments, none lost"))
        } else {
            Err(format!("{total} increments of {}", 2 * ROUNDS))
        }
    }

    /// An allocation shows in the free heap, and freeing it gives every byte back.
    fn heap_accounting() -> Result<String, String> {
        let before = HeapStats::now().free;
        let block: Vec<u8> = core::hint::black_box(Vec::with_capacity(10_000));
        let during = HeapStats::now().free;
        drop(block);
        let after = HeapStats::now().free;
        if before - during < 10_000 {
            return Err(format!("10 000 B took only {} B of heap", before - during));
        }
        if after != before {
            return Err(format!("free heap {before} B before, {after} B after"));
        }
        Ok(format!("10 000 B cost {} B, all returned", before - during))
    }

    /// A task that returns is deleted, and the kernel gives its stack and TCB back.
    fn task_returns() -> Result<String, String> {
        time::delay(Duration::from_millis(5));
        let before = HeapStats::now().free;
        let handle = spawn("returns", 4, || {})?;
        join(core::slice::from_ref(&handle), 100)?;
        // The idle task frees a deleted task's memory: let it run.
        time::delay(Duration::from_millis(5));
        drop(handle);
        let after = HeapStats::now().free;
        if after == before {
            Ok("deleted, its memory returned".into())
        } else {
            Err(format!("free heap {before} B before, {after} B after"))
        }
    }

    /// A task panics: the board's panic handler prints it and ends the boot with 101, so
    /// coming back here is a failure.
    fn task_panic() -> Result<String, String> {
        let handle = spawn("panicky", 4, || panic!("scenario panic"))?;
        join(&[handle], 1000)?;
        Err("the panic did not end the program".into())
    }

    /// A task recurses on a 1 KiB stack, switching at every level: the kernel's check at the
    /// switch finds the overflow, and the board's hook ends the boot with 70.
    fn stack_overflow() -> Result<String, String> {
        fn deeper(level: u32) -> u32 {
            let frame = core::hint::black_box([level as u8; 96]);
            time::delay(Duration::from_millis(1));
            if level == 1000 {
                return u32::from(frame[0]);
            }
            deeper(level + 1) + u32::from(frame[95])
        }
        let handle = task::TaskBuilder::new("deep")
            .priority(priority(4))
            .stack_bytes(1024)
            .spawn(|| {
                core::hint::black_box(deeper(0));
            })
            .map_err(|error| format!("spawn deep: {error}"))?;
        join(&[handle], 5000)?;
        Err("1000 levels of 96 B fitted in a 1 KiB stack".into())
    }
}
