//! Kernel scenarios every board runs: only `core`, `alloc` and the RTOS layer, no host.
//! Durations are measured with the board's uptime clock ([`Instant`]).
//!
//! The one source of these scenarios: `rtos-selftest` runs them on the simulators, one per
//! process, and the Cortex-M board's `examples/board_rtos_scenarios.rs` includes this file by
//! path and runs them in one boot under QEMU. So it names nothing of the harness: its parent
//! module provides `Outcome` and `check`.

use alloc::alloc::Layout;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::hint::black_box;
// No 64-bit atomics: 32-bit boards have none.
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

use super::{Outcome, check};
use freertos_https::rtos::heap::HeapStats;
use freertos_https::rtos::sync::{Mutex, Queue, SendTimeout};
use freertos_https::rtos::task::{self, Priority, TaskHandle};
use freertos_https::rtos::time::{self, Instant, Ticks};

/// A scenario by name (the harness's `Scenario<()>`).
pub(crate) type Scenario = (&'static str, fn(()) -> Outcome);

/// The scenarios that leave the kernel running, by name, for every runner: `rtos-selftest`
/// runs each in a process of its own, a board runs them one after another in one boot.
pub(crate) const SCENARIOS: &[Scenario] = &[
    ("preemption", preemption),
    ("time_slicing", time_slicing),
    ("delays", delays),
    ("queue", queue),
    ("notification", notification),
    ("mutex", mutex),
    ("heap_accounting", heap_accounting),
    ("alignment", alignment),
    ("task_returns", task_returns),
    ("handle_outlives_task", handle_outlives_task),
];

/// The scenarios that end the program on purpose (a task panic: 101; a kernel assert: 70),
/// so each one runs alone.
pub(crate) const ENDING_SCENARIOS: &[Scenario] =
    &[("task_panic", task_panic), ("kernel_assert", kernel_assert)];

pub(crate) fn priority(level: u8) -> Priority {
    Priority::new(level).expect("scenario priorities are below configMAX_PRIORITIES")
}

/// Waits (blocking this task, so lower ones run) until `count` reaches `target` or `limit`
/// passes on the host clock.
pub(crate) fn wait_for_count(
    count: &AtomicUsize,
    target: usize,
    limit: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    while count.load(Ordering::SeqCst) < target {
        if start.elapsed() > limit {
            return Err(format!(
                "only {} of {target} tasks finished within {limit:?}",
                count.load(Ordering::SeqCst)
            ));
        }
        time::delay(Duration::from_millis(2));
    }
    Ok(())
}

pub(crate) fn spawn(
    name: &str,
    level: u8,
    body: impl FnOnce() + Send + 'static,
) -> Result<TaskHandle, String> {
    task::spawn(name, priority(level), body).map_err(|error| format!("spawn {name}: {error}"))
}

/// A task that never blocks can only lose the CPU to a higher-priority task by pre-emption.
pub(crate) fn preemption(_: ()) -> Outcome {
    static HIGH_RAN: AtomicBool = AtomicBool::new(false);
    static SPINNER_SAW_HIGH: AtomicBool = AtomicBool::new(false);
    static WAKE_LATE_US: AtomicU32 = AtomicU32::new(u32::MAX);
    let done = Arc::new(AtomicUsize::new(0));

    let spinner_done = done.clone();
    spawn("spinner", 2, move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500) {
            if HIGH_RAN.load(Ordering::SeqCst) {
                SPINNER_SAW_HIGH.store(true, Ordering::SeqCst);
                break;
            }
            core::hint::spin_loop();
        }
        spinner_done.fetch_add(1, Ordering::SeqCst);
    })?;
    let high_done = done.clone();
    spawn("high", 3, move || {
        let asked = Duration::from_millis(20);
        let start = Instant::now();
        time::delay(asked);
        let late = start.elapsed().saturating_sub(asked);
        WAKE_LATE_US.store(
            u32::try_from(late.as_micros()).unwrap_or(u32::MAX),
            Ordering::SeqCst,
        );
        HIGH_RAN.store(true, Ordering::SeqCst);
        high_done.fetch_add(1, Ordering::SeqCst);
    })?;
    wait_for_count(&done, 2, Duration::from_secs(10))?;
    check(SPINNER_SAW_HIGH.load(Ordering::SeqCst), || {
        "the high-priority task never ran while the low-priority task spun".into()
    })?;
    let late_us = WAKE_LATE_US.load(Ordering::SeqCst);
    check(late_us < 100_000, || {
        format!("the high-priority task woke {late_us} us late")
    })?;
    Ok(format!(
        "high-priority wake-up {late_us} us after its delay"
    ))
}

/// Two busy tasks of equal priority must take turns at the tick.
pub(crate) fn time_slicing(_: ()) -> Outcome {
    static LAST_RUNNER: AtomicU32 = AtomicU32::new(0);
    static SWITCHES: AtomicU32 = AtomicU32::new(0);
    let loops = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let done = Arc::new(AtomicUsize::new(0));
    let spin_time = Duration::from_millis(400);
    for id in 1..=2u32 {
        let loops = loops.clone();
        let done = done.clone();
        spawn(&format!("slice{id}"), 2, move || {
            let start = Instant::now();
            while start.elapsed() < spin_time {
                if LAST_RUNNER.swap(id, Ordering::SeqCst) != id {
                    SWITCHES.fetch_add(1, Ordering::SeqCst);
                }
                loops[id as usize - 1].fetch_add(1, Ordering::Relaxed);
            }
            done.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    wait_for_count(&done, 2, Duration::from_secs(10))?;
    let switches = SWITCHES.load(Ordering::SeqCst);
    let (first, second) = (
        loops[0].load(Ordering::SeqCst),
        loops[1].load(Ordering::SeqCst),
    );
    check(first > 0 && second > 0, || {
        format!("a task never ran: loops {first} and {second}")
    })?;
    // 400 ms at 1 kHz gives up to ~400 slices; even a heavily loaded host gives dozens.
    check(switches >= 20, || {
        format!("only {switches} switches between equal-priority tasks in {spin_time:?}")
    })?;
    Ok(format!("{switches} switches in {spin_time:?}"))
}

/// Delays measured against the host clock: never short, and not much long.
pub(crate) fn delays(_: ()) -> Outcome {
    let mut report = Vec::new();
    for millis in [1u64, 10, 50, 200] {
        let asked = Duration::from_millis(millis);
        let ticks_before = time::tick_count();
        let start = Instant::now();
        time::delay(asked);
        let took = start.elapsed();
        let ticks = time::tick_count().as_u64() - ticks_before.as_u64();
        check(took >= asked, || {
            format!("delay({asked:?}) returned after {took:?}")
        })?;
        // Ticks on the POSIX port come from a sleeping timer thread and run slow (about
        // 1.2 ms each here), more so on a loaded machine.
        let allowed = asked * 2 + Duration::from_millis(50);
        check(took <= allowed, || {
            format!("delay({asked:?}) took {took:?}, more than {allowed:?}")
        })?;
        check(ticks > millis, || {
            format!("delay({asked:?}) spanned only {ticks} ticks")
        })?;
        report.push(format!("{millis}ms->{:.1}ms", took.as_secs_f64() * 1e3));
    }
    Ok(report.join(" "))
}

/// Items cross a small queue between tasks intact, in order, and block both sides.
pub(crate) fn queue(_: ()) -> Outcome {
    const ITEMS: u32 = 2000;
    let queue: Arc<Queue<(u32, String)>> = Arc::new(Queue::new(4).map_err(|e| e.to_string())?);
    let received = Arc::new(AtomicUsize::new(0));
    let failure: Arc<Mutex<Option<String>>> =
        Arc::new(Mutex::new(None).map_err(|e| e.to_string())?);
    let done = Arc::new(AtomicUsize::new(0));

    let (producer_queue, producer_done) = (queue.clone(), done.clone());
    spawn("producer", 2, move || {
        for sequence in 0..ITEMS {
            let item = (sequence, format!("item {sequence}"));
            if producer_queue.send(item, Ticks::FOREVER).is_err() {
                break;
            }
        }
        producer_done.fetch_add(1, Ordering::SeqCst);
    })?;
    let (consumer_queue, consumer_done) = (queue.clone(), done.clone());
    let (consumer_count, consumer_failure) = (received.clone(), failure.clone());
    spawn("consumer", 3, move || {
        for expected in 0..ITEMS {
            match consumer_queue.receive(Ticks::from_duration(Duration::from_secs(5))) {
                Some((sequence, text))
                    if sequence == expected && text == format!("item {expected}") =>
                {
                    consumer_count.fetch_add(1, Ordering::SeqCst);
                }
                other => {
                    *consumer_failure.lock() =
                        Some(format!("expected item {expected}, got {other:?}"));
                    break;
                }
            }
        }
        consumer_done.fetch_add(1, Ordering::SeqCst);
    })?;
    wait_for_count(&done, 2, Duration::from_secs(30))?;
    if let Some(why) = failure.lock().take() {
        return Err(why);
    }
    let count = received.load(Ordering::SeqCst);
    check(count == ITEMS as usize, || {
        format!("received {count} of {ITEMS} items")
    })?;

    // Timeouts: an empty queue times out, a full one hands the item back.
    let start = Instant::now();
    let nothing = queue.receive(Ticks::from_duration(Duration::from_millis(20)));
    let waited = start.elapsed();
    check(nothing.is_none(), || {
        "an empty queue produced an item".into()
    })?;
    check(waited >= Duration::from_millis(19), || {
        format!("receive timed out after only {waited:?}")
    })?;
    for sequence in 0..4 {
        queue
            .send((sequence, String::new()), Ticks::ZERO)
            .map_err(|_| "a queue with room refused an item")?;
    }
    match queue.send(
        (99, "kept".into()),
        Ticks::from_duration(Duration::from_millis(5)),
    ) {
        Err(SendTimeout((99, text))) if text == "kept" => {}
        other => {
            return Err(format!(
                "a full queue did not hand the item back: {other:?}"
            ));
        }
    }
    Ok(format!(
        "{ITEMS} items in order; receive timeout after {waited:?}"
    ))
}

/// Notifications wake a waiting task and count; waiting without one times out.
pub(crate) fn notification(_: ()) -> Outcome {
    static WAITER_GOT: AtomicU32 = AtomicU32::new(0);
    let done = Arc::new(AtomicUsize::new(0));
    let waiter_done = done.clone();
    let waiter = spawn("waiter", 3, move || {
        let mut total = 0;
        while total < 3 {
            let got = task::wait_for_notification(Ticks::from_duration(Duration::from_secs(5)));
            if got == 0 {
                break;
            }
            total += got;
        }
        WAITER_GOT.store(total, Ordering::SeqCst);
        waiter_done.fetch_add(1, Ordering::SeqCst);
    })?;
    for _ in 0..3 {
        waiter.notify();
        time::delay(Duration::from_millis(2));
    }
    wait_for_count(&done, 1, Duration::from_secs(10))?;
    let got = WAITER_GOT.load(Ordering::SeqCst);
    check(got == 3, || {
        format!("the waiter counted {got} of 3 notifications")
    })?;
    let start = Instant::now();
    let none = task::wait_for_notification(Ticks::from_duration(Duration::from_millis(15)));
    let waited = start.elapsed();
    check(none == 0, || {
        format!("{none} notifications arrived from nowhere")
    })?;
    check(waited >= Duration::from_millis(14), || {
        format!("the wait ended after only {waited:?}")
    })?;
    Ok("3 of 3 notifications; timeout honoured".into())
}

/// Increments under a contended mutex are never lost.
pub(crate) fn mutex(_: ()) -> Outcome {
    const ROUNDS: u64 = 3000;
    let counter = Arc::new(Mutex::new(0u64).map_err(|e| e.to_string())?);
    let done = Arc::new(AtomicUsize::new(0));
    for id in 0..2 {
        let (counter, done) = (counter.clone(), done.clone());
        spawn(&format!("locker{id}"), 2, move || {
            for round in 0..ROUNDS {
                let mut value = counter.lock();
                let seen = *value;
                if round % 64 == 0 {
                    // Give the other task a chance to find the mutex taken.
                    task::yield_now();
                }
                *value = seen + 1;
            }
            done.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    wait_for_count(&done, 2, Duration::from_secs(30))?;
    let total = *counter.lock();
    check(total == 2 * ROUNDS, || {
        format!("counter is {total}, expected {}", 2 * ROUNDS)
    })?;
    Ok(format!("{total} increments"))
}

/// A Vec made in a task comes from the FreeRTOS heap and goes back to it.
pub(crate) fn heap_accounting(_: ()) -> Outcome {
    const SIZE: usize = 64 * 1024;
    let before = HeapStats::now();
    let block = black_box(vec![0xA5u8; SIZE]);
    let during = HeapStats::now();
    let taken = before.free.saturating_sub(during.free);
    check((SIZE..SIZE + 64).contains(&taken), || {
        format!("a {SIZE} B Vec moved the free heap by {taken} B")
    })?;
    check(during.min_ever_free <= during.free, || {
        "minimum ever free is above free".into()
    })?;
    drop(block);
    let after = HeapStats::now();
    check(after.free == before.free, || {
        format!(
            "free heap {} B before, {} B after the Vec was dropped",
            before.free, after.free
        )
    })?;
    Ok(format!(
        "Vec of {SIZE} B took {taken} B of FreeRTOS heap; all returned"
    ))
}

/// Every alignment up to 64 is honoured, on the FreeRTOS heap (tasks) and on the host heap.
pub(crate) fn alignment(_: ()) -> Outcome {
    let before = HeapStats::now();
    check_alignments("task")?;
    #[repr(align(64))]
    struct CacheLine([u8; 64]);
    let lines: Vec<Box<CacheLine>> = (0..16).map(|i| Box::new(CacheLine([i; 64]))).collect();
    for (i, line) in lines.iter().enumerate() {
        let address = &**line as *const CacheLine as usize;
        check(address % 64 == 0, || {
            format!("Box<align(64)> at {address:#x}")
        })?;
        check(line.0.iter().all(|&byte| byte == i as u8), || {
            "Box<align(64)> content changed".into()
        })?;
    }
    drop(lines);
    let after = HeapStats::now();
    check(after.free == before.free, || {
        format!("free heap {} B before, {} B after", before.free, after.free)
    })?;
    Ok("alignments 1..=64 on the FreeRTOS heap".into())
}

pub(crate) fn check_alignments(context: &str) -> Result<(), String> {
    let mut blocks = Vec::new();
    for align in [1usize, 2, 4, 8, 16, 32, 64] {
        for size in [1usize, 7, 64, 1000] {
            let layout = Layout::from_size_align(size, align).map_err(|e| e.to_string())?;
            // SAFETY: the layout has a non-zero size.
            let block = unsafe { alloc::alloc::alloc(layout) };
            check(!block.is_null(), || {
                format!("{context}: allocation of {layout:?} failed")
            })?;
            check(block as usize % align == 0, || {
                format!("{context}: {layout:?} at {:#x}", block as usize)
            })?;
            // SAFETY: `block` is valid for `size` bytes.
            unsafe { block.write_bytes(align as u8 ^ size as u8, size) };
            blocks.push((block, layout));
        }
    }
    for &(block, layout) in &blocks {
        let expected = layout.align() as u8 ^ layout.size() as u8;
        // SAFETY: `block` is live and was filled with `layout.size()` bytes above.
        let content = unsafe { core::slice::from_raw_parts(block, layout.size()) };
        check(content.iter().all(|&byte| byte == expected), || {
            format!("{context}: {layout:?} was overwritten")
        })?;
    }
    for (block, layout) in blocks {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { alloc::alloc::dealloc(block, layout) };
    }
    Ok(())
}

/// The heap once the idle task has freed the control blocks and stacks of deleted tasks
/// (it does so when it next runs): waits until `free` is back to `expected_free`, or 5 s.
pub(crate) fn heap_after_idle_cleanup(expected_free: usize) -> HeapStats {
    let start = Instant::now();
    let mut heap = HeapStats::now();
    while heap.free != expected_free && start.elapsed() < Duration::from_secs(5) {
        time::delay(Duration::from_millis(10));
        heap = HeapStats::now();
    }
    heap
}

/// Tasks that return are deleted by the trampoline, and their memory comes back.
pub(crate) fn task_returns(_: ()) -> Outcome {
    const TASKS: usize = 40;
    // Let the idle task finish any earlier clean-up before the baseline.
    time::delay(Duration::from_millis(20));
    let finished = Arc::new(AtomicUsize::new(0));
    let before = HeapStats::now();
    for index in 0..TASKS {
        let finished = finished.clone();
        spawn(&format!("short{index}"), 1 + (index % 3) as u8, move || {
            if index % 2 == 0 {
                time::delay(Duration::from_millis(1));
            }
            let scratch = black_box(vec![index as u8; 256]);
            drop(scratch);
            finished.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    wait_for_count(&finished, TASKS, Duration::from_secs(30))?;
    let after = heap_after_idle_cleanup(before.free);
    check(after.free == before.free, || {
        format!(
            "{} B free before {TASKS} tasks ran and returned, {} B after",
            before.free, after.free
        )
    })?;
    Ok(format!(
        "{TASKS} tasks returned; heap back to {} B free",
        after.free
    ))
}

/// A panicking task ends the process with a message and status 101.
pub(crate) fn task_panic(_: ()) -> Outcome {
    spawn("boom", 3, || panic!("deliberate panic for the self-test"))?;
    time::delay(Duration::from_secs(5));
    Err("the process survived a task panic".into())
}

/// A failed kernel assertion ends the process with a message and status 70.
pub(crate) fn kernel_assert(_: ()) -> Outcome {
    kernel_misuse::receive_from_null_queue();
    Err("the kernel did not assert on a NULL queue".into())
}

/// A handle kept after its task ended notifies nothing: not the ended task, and not a task
/// that the kernel has since put in its place. Before the fix, a copy of the handle could
/// notify the freed control block from safe code.
pub(crate) fn handle_outlives_task(_: ()) -> Outcome {
    let ended = spawn("short", 4, || {})?;
    while ended.is_running() {
        time::delay(Duration::from_millis(1));
    }
    // Let the idle task free it, then start a task of the same size in its place.
    time::delay(Duration::from_millis(20));
    let woken = Arc::new(AtomicU32::new(u32::MAX));
    let bystander_woken = woken.clone();
    spawn("bystander", 4, move || {
        let got = task::wait_for_notification(Ticks::from_duration(Duration::from_millis(200)));
        bystander_woken.store(got, Ordering::SeqCst);
    })?;
    let delivered = ended.notify();
    check(!delivered, || {
        "notify() on an ended task's handle reported delivery".into()
    })?;
    let start = Instant::now();
    while woken.load(Ordering::SeqCst) == u32::MAX && start.elapsed() < Duration::from_secs(2) {
        time::delay(Duration::from_millis(5));
    }
    let got = woken.load(Ordering::SeqCst);
    check(got == 0, || {
        format!("the task that took the ended task's place got {got} notification(s)")
    })?;
    let me = TaskHandle::current().ok_or("the application task has no handle")?;
    check(me.is_running(), || {
        "the calling task's handle says it ended".into()
    })?;
    Ok("an ended task's handle notifies nothing".into())
}

/// Deliberate misuse of the raw kernel API, to check that configASSERT is wired up.
mod kernel_misuse {
    #![allow(unsafe_code)]

    use core::ffi::c_void;

    unsafe extern "C" {
        fn xQueueReceive(
            queue: *mut c_void,
            buffer: *mut c_void,
            ticks: core::ffi::c_ulong,
        ) -> core::ffi::c_long;
    }

    /// Calls `xQueueReceive` with a NULL queue, whose first check is `configASSERT(pxQueue)`.
    pub(super) fn receive_from_null_queue() {
        let mut buffer = [0u8; 8];
        // SAFETY: the kernel asserts on the NULL queue before touching anything, and the
        // assert handler ends the process; nothing is read or written.
        unsafe { xQueueReceive(core::ptr::null_mut(), buffer.as_mut_ptr().cast(), 0) };
    }
}
